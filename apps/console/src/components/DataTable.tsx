import { ReactNode, useId, useMemo, useState } from 'react';
import {
  ColumnDef,
  flexRender,
  getCoreRowModel,
  getPaginationRowModel,
  getSortedRowModel,
  SortingState,
  useReactTable,
  VisibilityState,
} from '@tanstack/react-table';
import { toCsv } from '../format';

export interface Column<R> {
  id: string;
  header: string;
  cell: (r: R) => ReactNode;
  /** The value sorted on; none = not sortable. */
  sort?: (r: R) => number | string | bigint;
  /** The exact value(s) written to CSV for this column. */
  csv: (r: R) => string | number | bigint | undefined;
  numeric?: boolean;
  /** Hidden until chosen in the column chooser. */
  hidden?: boolean;
}

function compare(a: unknown, b: unknown): number {
  if (typeof a === 'bigint' && typeof b === 'bigint') return a < b ? -1 : a > b ? 1 : 0;
  if (typeof a === 'number' && typeof b === 'number') return a - b;
  return String(a).localeCompare(String(b));
}

/**
 * A sortable, paged table with a column chooser, its totals row kept in view (sticky) and a CSV download of exactly
 * what is shown: the visible columns, in the current order, every page, with exact values.
 */
export function DataTable<R>({ rows, columns, total, caption, csvName, pageSize = 25, rowKey, testId }: {
  rows: R[];
  columns: Column<R>[];
  total?: R;
  caption: string;
  csvName?: string;
  pageSize?: number;
  rowKey: (r: R) => string;
  testId?: string;
}) {
  const chooserId = useId();
  const [sorting, setSorting] = useState<SortingState>([]);
  const [visibility, setVisibility] = useState<VisibilityState>(() => Object.fromEntries(columns.filter((c) => c.hidden).map((c) => [c.id, false])));
  const [pagination, setPagination] = useState({ pageIndex: 0, pageSize });
  const defs = useMemo<ColumnDef<R>[]>(
    () =>
      columns.map((c) => ({
        id: c.id,
        header: c.header,
        accessorFn: (r: R) => (c.sort ? c.sort(r) : ''),
        enableSorting: !!c.sort,
        sortingFn: (a, b, id) => compare(a.getValue(id), b.getValue(id)),
        sortDescFirst: !!c.numeric,
        cell: (ctx) => c.cell(ctx.row.original),
        meta: c,
      })),
    [columns],
  );
  const table = useReactTable({
    data: rows,
    columns: defs,
    state: { sorting, columnVisibility: visibility, pagination },
    onSortingChange: setSorting,
    onColumnVisibilityChange: setVisibility,
    onPaginationChange: setPagination,
    getRowId: rowKey,
    getCoreRowModel: getCoreRowModel(),
    getSortedRowModel: getSortedRowModel(),
    getPaginationRowModel: getPaginationRowModel(),
  });
  const visible = table.getVisibleLeafColumns().map((c) => c.columnDef.meta as Column<R>);

  const download = () => {
    const sorted = table.getSortedRowModel().rows.map((r) => r.original);
    const lines = [visible.map((c) => c.header), ...sorted.map((r) => visible.map((c) => c.csv(r))), ...(total ? [visible.map((c, i) => (i === 0 ? 'TOTAL' : c.csv(total)))] : [])];
    const url = URL.createObjectURL(new Blob([toCsv(lines)], { type: 'text/csv;charset=utf-8' }));
    const a = document.createElement('a');
    a.href = url;
    a.download = `${csvName ?? 'trackly'}.csv`;
    document.body.append(a);
    a.click();
    a.remove();
    setTimeout(() => URL.revokeObjectURL(url), 10_000);
  };

  const pages = table.getPageCount();
  return (
    <div className="data-table" data-testid={testId}>
      <div className="table-tools">
        <details className="column-chooser">
          <summary>Columns ({visible.length}/{columns.length})</summary>
          <fieldset id={chooserId}>
            <legend className="sr-only">Columns shown</legend>
            {table.getAllLeafColumns().map((c) => (
              <label key={c.id}>
                <input type="checkbox" checked={c.getIsVisible()} onChange={c.getToggleVisibilityHandler()} disabled={c.getIsVisible() && visible.length === 1} />
                {(c.columnDef.meta as Column<R>).header}
              </label>
            ))}
          </fieldset>
        </details>
        {csvName && (
          <button type="button" onClick={download} disabled={!rows.length}>
            Download CSV ({rows.length} rows, {visible.length} columns)
          </button>
        )}
      </div>
      <div className="table-scroll" tabIndex={0} role="region" aria-label={caption}>
        <table>
          <caption className="sr-only">{caption}</caption>
          <thead>
            {table.getHeaderGroups().map((g) => (
              <tr key={g.id}>
                {g.headers.map((h) => {
                  const c = h.column.columnDef.meta as Column<R>;
                  const sorted = h.column.getIsSorted();
                  return (
                    <th key={h.id} scope="col" className={c.numeric ? 'num' : undefined} aria-sort={sorted === 'asc' ? 'ascending' : sorted === 'desc' ? 'descending' : undefined}>
                      {h.column.getCanSort() ? (
                        <button type="button" className="sort" onClick={h.column.getToggleSortingHandler()}>
                          {c.header}
                          <span aria-hidden="true">{sorted === 'asc' ? ' ▲' : sorted === 'desc' ? ' ▼' : ' ↕'}</span>
                        </button>
                      ) : (
                        c.header
                      )}
                    </th>
                  );
                })}
              </tr>
            ))}
          </thead>
          <tbody>
            {table.getRowModel().rows.map((r) => (
              <tr key={r.id}>
                {r.getVisibleCells().map((cell) => (
                  <td key={cell.id} className={(cell.column.columnDef.meta as Column<R>).numeric ? 'num' : undefined}>
                    {flexRender(cell.column.columnDef.cell, cell.getContext())}
                  </td>
                ))}
              </tr>
            ))}
          </tbody>
          {total && (
            <tfoot>
              <tr>
                {visible.map((c, i) => (
                  <td key={c.id} className={c.numeric ? 'num' : undefined}>
                    {i === 0 ? <strong>Total</strong> : c.cell(total)}
                  </td>
                ))}
              </tr>
            </tfoot>
          )}
        </table>
      </div>
      {pages > 1 && (
        <nav className="pager" aria-label={`${caption} pages`}>
          <button type="button" onClick={() => table.previousPage()} disabled={!table.getCanPreviousPage()}>
            Previous
          </button>
          <span>
            Page {pagination.pageIndex + 1} of {pages}
          </span>
          <button type="button" onClick={() => table.nextPage()} disabled={!table.getCanNextPage()}>
            Next
          </button>
        </nav>
      )}
    </div>
  );
}
