import { useEffect, useRef, useState } from 'react';
import type { Chart } from 'chart.js';

/** Chart.js, loaded after the first paint (the figures above the chart do not wait for it). */
let chartJs: Promise<typeof Chart> | undefined;
function loadChart(): Promise<typeof Chart> {
  chartJs ??= import('chart.js').then((m) => {
    m.Chart.register(m.LineController, m.LineElement, m.PointElement, m.LinearScale, m.CategoryScale, m.Tooltip, m.Filler);
    return m.Chart;
  });
  return chartJs;
}

/**
 * A time series: one point per day (days without data are zeros the caller filled in), axes with their units,
 * gridlines, a tooltip per point. The numbers are also in the table beside it for people who do not see the chart.
 */
export function LineChart({ labels, values, label, format, ariaLabel }: {
  labels: string[];
  values: number[];
  label: string;
  format: (v: number) => string;
  ariaLabel: string;
}) {
  const canvas = useRef<HTMLCanvasElement>(null);
  const chart = useRef<Chart | null>(null);
  const [ready, setReady] = useState(false);
  useEffect(() => {
    let alive = true;
    loadChart().then((ChartJs) => {
      if (!alive || !canvas.current) return;
      chart.current = new ChartJs(canvas.current, {
      type: 'line',
      data: { labels: [], datasets: [{ label, data: [], borderColor: '#1d4ed8', backgroundColor: 'rgba(29,78,216,0.12)', fill: true, tension: 0.2, pointRadius: 3 }] },
      options: {
        responsive: true,
        maintainAspectRatio: false,
        animation: false,
        interaction: { mode: 'index', intersect: false },
        scales: {
          x: { grid: { color: '#e5e7eb' }, ticks: { maxRotation: 0, autoSkip: true, maxTicksLimit: 8 }, title: { display: true, text: 'Day' } },
          y: { beginAtZero: true, grid: { color: '#e5e7eb' }, ticks: { callback: (v) => format(Number(v)) }, title: { display: true, text: label } },
        },
        plugins: { legend: { display: false }, tooltip: { callbacks: { label: (ctx) => `${label}: ${format(Number(ctx.parsed.y))}` } } },
      },
      });
      setReady(true);
    });
    return () => {
      alive = false;
      chart.current?.destroy();
    };
    // The chart is created once; data and labels are updated below.
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, []);
  useEffect(() => {
    const c = chart.current;
    if (!c) return;
    c.data.labels = labels;
    c.data.datasets[0].data = values;
    c.data.datasets[0].label = label;
    const y = c.options.scales!.y as { title: { text: string }; ticks: { callback: (v: unknown) => string } };
    y.title.text = label;
    y.ticks.callback = (v) => format(Number(v));
    c.options.plugins!.tooltip!.callbacks!.label = (ctx) => `${label}: ${format(Number(ctx.parsed.y))}`;
    c.update();
  }, [labels, values, label, format, ready]);
  return (
    <div className="chart-box">
      <canvas ref={canvas} role="img" aria-label={ariaLabel} data-points={ready ? values.length : undefined} />
    </div>
  );
}
