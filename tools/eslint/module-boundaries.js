// ESLint rule enforcing the project tag constraint table (Nx "enforce module boundaries" without the Nx ESLint
// plugin, which has no release for Nx 24). Projects and their tags come from every project.json; an import of
// `@trackly/<lib>` is checked against the importing project's tags.
'use strict';
const fs = require('node:fs');
const path = require('node:path');

const root = path.resolve(__dirname, '../..');

/** Which tags a project with a given tag may depend on. Every tag of the importer must allow the target. */
const CONSTRAINTS = [
  { sourceTag: 'type:app', onlyDependOnLibsWithTags: ['type:contracts', 'type:platform', 'type:domain'] },
  { sourceTag: 'type:e2e', onlyDependOnLibsWithTags: ['type:contracts', 'type:platform', 'type:domain', 'type:testing', 'type:app', 'type:tool'] },
  { sourceTag: 'type:tool', onlyDependOnLibsWithTags: ['type:contracts', 'type:platform', 'type:domain'] },
  { sourceTag: 'type:platform', onlyDependOnLibsWithTags: ['type:contracts', 'type:platform', 'type:domain'] },
  { sourceTag: 'type:testing', onlyDependOnLibsWithTags: ['type:contracts', 'type:platform', 'type:domain'] },
  { sourceTag: 'type:domain', onlyDependOnLibsWithTags: ['type:domain'] },
  { sourceTag: 'type:contracts', onlyDependOnLibsWithTags: [] },
  // A service never depends on another service's code, only on shared libraries and contracts.
  { sourceTag: 'scope:tracking', onlyDependOnLibsWithTags: ['scope:shared', 'scope:tracking'] },
  { sourceTag: 'scope:ingest', onlyDependOnLibsWithTags: ['scope:shared', 'scope:ingest'] },
  { sourceTag: 'scope:attribution', onlyDependOnLibsWithTags: ['scope:shared', 'scope:attribution'] },
  { sourceTag: 'scope:reporting', onlyDependOnLibsWithTags: ['scope:shared', 'scope:reporting'] },
  { sourceTag: 'scope:gateway', onlyDependOnLibsWithTags: ['scope:shared', 'scope:gateway'] },
  { sourceTag: 'scope:delivery', onlyDependOnLibsWithTags: ['scope:shared', 'scope:delivery'] },
  { sourceTag: 'scope:shared', onlyDependOnLibsWithTags: ['scope:shared'] },
  { sourceTag: 'scope:tools', onlyDependOnLibsWithTags: ['scope:shared', 'scope:tools'] },
  { sourceTag: 'scope:e2e', onlyDependOnLibsWithTags: ['scope:shared', 'scope:tools', 'scope:e2e', 'scope:tracking', 'scope:ingest', 'scope:attribution', 'scope:reporting', 'scope:gateway', 'scope:delivery'] },
];

function loadProjects() {
  const projects = [];
  for (const group of ['apps', 'libs', 'tools']) {
    const dir = path.join(root, group);
    if (!fs.existsSync(dir)) continue;
    for (const name of fs.readdirSync(dir)) {
      const file = path.join(dir, name, 'project.json');
      if (!fs.existsSync(file)) continue;
      const p = JSON.parse(fs.readFileSync(file, 'utf8'));
      projects.push({ name: p.name, root: path.join(dir, name) + path.sep, tags: p.tags ?? [] });
    }
  }
  return projects;
}

const projects = loadProjects();
const byName = new Map(projects.map((p) => [p.name, p]));

module.exports = {
  meta: {
    type: 'problem',
    docs: { description: 'Enforce project tag constraints between apps and libs' },
    schema: [],
    messages: {
      banned: '{{source}} ({{sourceTags}}) may not depend on {{target}} ({{targetTags}}): {{tag}} allows only {{allowed}}.',
      relative: 'Import {{target}} through its public API "@trackly/{{target}}", not a relative path into it.',
    },
  },
  create(context) {
    const filename = context.filename ?? context.getFilename();
    const source = projects.find((p) => filename.startsWith(p.root));
    if (!source) return {};
    const isTest = /\.(spec|int-spec|e2e-spec)\.ts$/.test(filename) || filename.includes(`${path.sep}test${path.sep}`);
    function check(node, spec) {
      if (typeof spec !== 'string') return;
      let target;
      const m = /^@trackly\/([a-z-]+)/.exec(spec);
      if (m) target = byName.get(m[1]);
      else if (spec.startsWith('.')) {
        const resolved = path.resolve(path.dirname(filename), spec);
        target = projects.find((p) => resolved.startsWith(p.root) || resolved + path.sep === p.root);
        // Specs may boot other services as real collaborators; production code never imports another project's files.
        if (target && target !== source && !(isTest && (target.tags.includes('type:app') || target.tags.includes('type:tool')))) {
          context.report({ node, messageId: 'relative', data: { target: target.name } });
          return;
        }
      }
      if (!target || target === source) return;
      // Specs may use the test harness whatever their project's type.
      if (isTest && (target.tags.includes('type:testing') || target.tags.includes('type:app'))) return;
      for (const c of CONSTRAINTS) {
        if (!source.tags.includes(c.sourceTag)) continue;
        if (!target.tags.some((t) => c.onlyDependOnLibsWithTags.includes(t))) {
          context.report({
            node,
            messageId: 'banned',
            data: {
              source: source.name, sourceTags: source.tags.join(','), target: target.name,
              targetTags: target.tags.join(','), tag: c.sourceTag, allowed: c.onlyDependOnLibsWithTags.join(', ') || 'nothing',
            },
          });
          return;
        }
      }
    }
    return {
      ImportDeclaration: (node) => check(node, node.source.value),
      ExportNamedDeclaration: (node) => node.source && check(node, node.source.value),
      ExportAllDeclaration: (node) => check(node, node.source.value),
      CallExpression: (node) => {
        if (node.callee.type === 'Identifier' && node.callee.name === 'require' && node.arguments[0]?.type === 'Literal') {
          check(node, node.arguments[0].value);
        }
      },
    };
  },
  CONSTRAINTS,
};
