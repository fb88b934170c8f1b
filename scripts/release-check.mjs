#!/usr/bin/env node
// Before a release pushes anything: the tag, package.json, Chart.yaml (version and appVersion)
// and CHANGELOG.md name one version, and the chart's default image is the one the release
// pushes. Prints `version=<version>` (for $GITHUB_OUTPUT) or, with --notes, that version's
// CHANGELOG.md section (the GitHub release's notes). Exits 1 with the mismatch otherwise.
// Usage: node scripts/release-check.mjs v<version> <image repository> [--notes]
import { readFileSync } from 'node:fs';
import { parse } from 'yaml';

const [tag, image, notes] = process.argv.slice(2);
const root = new URL('..', import.meta.url);
const read = (file) => readFileSync(new URL(file, root), 'utf8');
const problems = [];

if (tag === undefined || image === undefined) {
  console.error('usage: node scripts/release-check.mjs v<version> <image repository> [--notes]');
  process.exit(2);
}
const match = /^v((0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)(-[0-9A-Za-z.-]+)?)$/.exec(tag);
if (match === null) problems.push(`tag ${JSON.stringify(tag)} is not v<semantic version>`);
const version = match?.[1] ?? tag.replace(/^v/, '');

const pkg = JSON.parse(read('package.json'));
const chart = parse(read('charts/kubevirt-vhostuser/Chart.yaml'));
const values = parse(read('charts/kubevirt-vhostuser/values.yaml'));
if (pkg.version !== version) problems.push(`package.json version is ${pkg.version}, the tag says ${version}`);
if (chart.version !== version) problems.push(`Chart.yaml version is ${chart.version}, the tag says ${version}`);
if (String(chart.appVersion) !== version) problems.push(`Chart.yaml appVersion is ${chart.appVersion}, the tag says ${version} (the chart's default image tag)`);
if (values.image?.repository !== image) problems.push(`values.yaml image.repository is ${values.image?.repository}, the release pushes ${image}`);
if (values.image?.tag !== '' || values.image?.digest !== '') problems.push('values.yaml image.tag and image.digest must be empty: the chart then runs appVersion');

// The section from its `## <version> ` heading to the next `## `.
const changelog = read('CHANGELOG.md');
const start = changelog.search(new RegExp(`^## ${version.replaceAll('.', '\\.')}( |$)`, 'm'));
if (start < 0) problems.push(`CHANGELOG.md has no "## ${version}" section`);
const rest = changelog.slice(start).split('\n');
const end = rest.findIndex((line, i) => i > 0 && line.startsWith('## '));
const section = rest.slice(1, end < 0 ? undefined : end).join('\n').trim();

if (problems.length > 0) {
  for (const p of problems) console.error(`release-check: ${p}`);
  process.exit(1);
}
process.stdout.write(notes === '--notes' ? `${section}\n` : `version=${version}\n`);
