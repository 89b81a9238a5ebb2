import { formatNumber as num } from './format-number.ts';
import type { BenchReport } from './report.ts';

function escapeXml(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

interface Panel {
  title: string;
  unit: string;
  decimals: number;
  bars: { label: string; median: number; min: number; max: number; highlight: boolean }[];
}

const WIDTH = 760;
const LABEL_W = 150;
const VALUE_W = 120;
const ROW_H = 22;

function panelSvg(panel: Panel, top: number): { svg: string; height: number } {
  const plotW = WIDTH - LABEL_W - VALUE_W - 20;
  const finite = panel.bars.filter((b) => Number.isFinite(b.median));
  const scale = Math.max(...finite.map((b) => (Number.isFinite(b.max) ? b.max : b.median)), 1e-9);
  const out = [`<text x="10" y="${top + 16}" class="title">${escapeXml(panel.title)}</text>`];
  panel.bars.forEach((bar, i) => {
    const y = top + 26 + i * ROW_H;
    out.push(`<text x="${LABEL_W - 8}" y="${y + 14}" class="label">${escapeXml(bar.label)}</text>`);
    if (!Number.isFinite(bar.median)) {
      out.push(`<text x="${LABEL_W + 4}" y="${y + 14}" class="value">no result</text>`);
      return;
    }
    const w = (bar.median / scale) * plotW;
    out.push(
      `<rect x="${LABEL_W}" y="${y + 3}" width="${w.toFixed(1)}" height="${ROW_H - 6}" class="${bar.highlight ? 'bar hi' : 'bar'}"/>`,
    );
    if (Number.isFinite(bar.min) && Number.isFinite(bar.max) && bar.max > bar.min) {
      const x1 = LABEL_W + (bar.min / scale) * plotW;
      const x2 = LABEL_W + (bar.max / scale) * plotW;
      const cy = y + ROW_H / 2;
      out.push(
        `<path d="M${x1.toFixed(1)} ${cy}H${x2.toFixed(1)}M${x1.toFixed(1)} ${cy - 4}v8M${x2.toFixed(1)} ${cy - 4}v8" class="range"/>`,
      );
    }
    const text = `${num(bar.median, panel.decimals)}${panel.unit === '' ? '' : ` ${panel.unit}`}`;
    out.push(`<text x="${LABEL_W + plotW + 8}" y="${y + 14}" class="value">${escapeXml(text)}</text>`);
  });
  return { svg: out.join('\n'), height: 26 + panel.bars.length * ROW_H + 14 };
}

/** A plain SVG of horizontal bars (median, with min–max whiskers) for req/s and p99 of each charted scenario. */
export function chartSvg(report: BenchReport): string {
  const panels: Panel[] = [];
  for (const s of report.scenarios.filter((x) => x.chart)) {
    for (const [key, what, unit, decimals] of [
      ['rps', 'requests/s (higher is better)', '', 0],
      ['p99', 'p99 latency (lower is better)', 'ms', 2],
    ] as const) {
      panels.push({
        title: `${s.title} — ${what}`,
        unit,
        decimals,
        bars: s.rows.map((r) => {
          const m = r.metrics[key];
          return {
            label: r.label,
            median: m?.median ?? Number.NaN,
            min: m?.min ?? Number.NaN,
            max: m?.max ?? Number.NaN,
            highlight: r.label === 'portico',
          };
        }),
      });
    }
  }
  let top = 10;
  const body: string[] = [];
  for (const p of panels) {
    const { svg, height } = panelSvg(p, top);
    body.push(svg);
    top += height;
  }
  // The full run description is in the docs beside the chart; the footer only dates it.
  const mode = report.info.mode.split(':')[0] ?? '';
  const generator = report.info.loadGenerator.split(' (')[0] ?? '';
  const footer = `${report.info.date} · ${mode} run · ${report.info.node} · ${generator} · median, whiskers min–max`;
  body.push(`<text x="10" y="${top + 12}" class="foot">${escapeXml(footer)}</text>`);
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${WIDTH}" height="${top + 24}" viewBox="0 0 ${WIDTH} ${top + 24}" font-family="system-ui, sans-serif" font-size="12">
<style>
.title { font-weight: 600; font-size: 13px; fill: #222; }
.label { text-anchor: end; fill: #333; }
.value, .foot { fill: #555; }
.bar { fill: #9aa5b1; }
.hi { fill: #2f6fdd; }
.range { stroke: #222; stroke-width: 1; fill: none; }
</style>
<rect width="100%" height="100%" fill="#fff"/>
${body.join('\n')}
</svg>
`;
}
