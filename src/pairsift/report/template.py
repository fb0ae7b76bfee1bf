# ruff: noqa: E501  (HTML and CSS lines of the template)
"""The page: one self-contained HTML file (styles inline, charts inline SVG, images as data: URIs).

Rendered by jinja2 with autoescaping on: every value from the data is escaped; only the SVG charts,
built by :mod:`pairsift.report.svg` (which escapes what it is given), are inserted as markup. The
Content-Security-Policy allows no script and no network fetch at all.
"""

PAGE = """<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; img-src data:; style-src 'unsafe-inline'; base-uri 'none'; form-action 'none'">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="generator" content="pairsift {{ version }}">
<title>{{ title }}</title>
<style>
body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", sans-serif; margin: 0; color: #1d2330; background: #f6f7f9; }
header { background: #1d2330; color: #fff; padding: 14px 24px; }
header h1 { font-size: 20px; margin: 0 0 4px; }
header p { margin: 0; color: #c9cfdb; overflow-wrap: anywhere; }
nav { background: #fff; border-bottom: 1px solid #dde1e8; padding: 8px 24px; position: sticky; top: 0; z-index: 1; }
nav a { margin-right: 16px; color: #0a58ca; text-decoration: none; }
main { padding: 8px 24px 40px; max-width: 1400px; }
section { margin-top: 22px; }
h2 { font-size: 18px; border-bottom: 2px solid #dde1e8; padding-bottom: 4px; }
h3 { font-size: 15px; margin: 14px 0 6px; }
.panel { background: #fff; border: 1px solid #dde1e8; border-radius: 6px; padding: 10px 14px; margin: 10px 0; }
.row { display: flex; flex-wrap: wrap; gap: 16px; align-items: flex-start; }
table { border-collapse: collapse; font-variant-numeric: tabular-nums; }
th, td { padding: 3px 9px; text-align: right; border-bottom: 1px solid #eceef2; }
th:first-child, td:first-child { text-align: left; }
th { font-weight: 600; background: #f0f2f5; }
.muted { color: #687083; }
.note { color: #687083; font-size: 12.5px; }
.chart { max-width: 100%; height: auto; }
.chart .axis { stroke: #687083; stroke-width: 1; }
.chart .tick { font-size: 11px; fill: #445; }
.chart .cut { stroke-width: 2; stroke-dasharray: 5 3; }
.chart .cutlabel { font-size: 11px; font-weight: 600; }
.chart .dots { stroke-width: 3.2; stroke-linecap: round; fill: none; stroke-opacity: 0.75; }
.swatch { display: inline-block; width: 11px; height: 11px; border-radius: 2px; vertical-align: -1px; margin-right: 4px; }
.bar { background: #e9ecf1; width: 64px; height: 9px; display: inline-block; vertical-align: middle; margin-left: 6px; }
.bar span { display: block; height: 9px; }
td.mark { font-size: 15px; text-align: center; }
td.nowrap { white-space: nowrap; }
td.params { text-align: left; font-family: ui-monospace, monospace; font-size: 12px; }
.gallery { display: grid; grid-template-columns: repeat(auto-fill, minmax(170px, 1fr)); gap: 10px; }
.card { background: #fff; border: 1px solid #dde1e8; border-radius: 6px; padding: 8px; font-size: 12.5px; overflow-wrap: anywhere; }
.card img { display: block; width: 96px; height: 96px; object-fit: contain; background: #eef0f3; margin-bottom: 6px; image-rendering: auto; }
.card .noimg { width: 96px; height: 54px; display: flex; align-items: center; justify-content: center; background: #eef0f3; color: #687083; font-size: 11px; text-align: center; margin-bottom: 6px; }
.card .caption { font-size: 13.5px; margin: 4px 0; white-space: pre-wrap; }
.card .uid { font-family: ui-monospace, monospace; font-size: 11px; color: #687083; }
.card table { font-size: 11.5px; margin-top: 4px; }
.card td, .card th { padding: 1px 4px; }
.badge { display: inline-block; border-radius: 3px; padding: 0 5px; margin: 2px 3px 0 0; font-size: 11px; color: #fff; }
.badge.out { background: #fff !important; color: #687083; border: 1px solid #c9cfdb; text-decoration: line-through; }
.label { display: inline-block; background: #fff3cd; border: 1px solid #e6d28a; border-radius: 3px; padding: 0 5px; font-size: 11.5px; }
details > summary { cursor: pointer; font-weight: 600; margin: 10px 0 6px; }
</style>
</head>
<body>
<header>
<h1>{{ title }}</h1>
<p>run {{ run.dir }}{% if run.pool %} · pool {{ run.pool }}{% endif %} · {{ "{:,}".format(run.rows) }} rows in {{ run.shards }} score tables</p>
</header>
<nav>
<a href="#overview">Overview</a><a href="#scores">Scores</a>{% if selections %}<a href="#selections">Selections</a>{% endif %}
<a href="#relations">Relations</a>{% if overlap %}<a href="#overlap">Overlap</a>{% endif %}{% if labels %}<a href="#labels">Labels</a>{% endif %}
{% if bench %}<a href="#bench">Bench</a>{% endif %}<a href="#galleries">Galleries</a><a href="#notes">Notes</a>
</nav>
<main>
<section id="overview">
<h2>Overview</h2>
<div class="row">
<div class="panel"><h3>Row statuses</h3>
<table><tr><th>status</th><th>rows</th><th>share</th></tr>
{% for s in run.statuses %}<tr><td>{{ s.name }}</td><td>{{ "{:,}".format(s.count) }}</td><td>{{ "{:.2%}".format(s.share) }}</td></tr>
{% endfor %}</table></div>
<div class="panel"><h3>Scores in this run</h3>
<table><tr><th>column</th><th>scorer</th><th>better</th><th>parameters</th></tr>
{% for s in scorers %}<tr><td>{{ s.column }}</td><td>{{ s.kind }}</td><td>{{ s.better }}</td><td class="params">{{ s.params }}</td></tr>
{% endfor %}</table>
{% if texts %}<p class="note">text columns shown on cards: {{ texts | join(", ") }}</p>{% endif %}</div>
</div>
</section>

<section id="scores">
<h2>Scores</h2>
{% for s in scores %}
<div class="panel" id="score-{{ loop.index }}">
<h3>{{ s.name }} <span class="muted">({{ s.better }} is better)</span></h3>
<div class="row">
<div>{% if s.chart %}{{ s.chart }}{% else %}<p class="muted">no finite values</p>{% endif %}
<p class="note"><span class="swatch" style="background:#b8bcc4"></span>all rows{% if s.kept %} · <span class="swatch" style="background:{{ s.kept.colour }}"></span>kept by {{ s.kept.name }}{% endif %}{% for m in s.markers %} · <span style="color:{{ m.colour }}">┆ {{ m.label }} cut at {{ "%.4g" | format(m.value) }}</span>{% endfor %}</p></div>
<table>
{% for k, v in s.stats %}<tr><td>{{ k }}</td><td>{{ v }}</td></tr>
{% endfor %}</table>
</div></div>
{% endfor %}
</section>

{% if selections %}
<section id="selections">
<h2>Selections</h2>
{% for s in selections %}
<div class="panel">
<h3><span class="swatch" style="background:{{ s.colour }}"></span>{{ s.name }} <span class="muted">· {{ s.path }}</span></h3>
<p>{{ s.description }}</p>
<p>{{ "{:,}".format(s.rows) }} uids in the file; {{ "{:,}".format(s.in_pool) }} rows of this run ({{ "{:.2%}".format(s.share) }}) are in it.</p>
{% if s.funnel %}{{ s.funnel }}{% else %}<p class="note">No selection record beside the file: membership only.</p>{% endif %}
{% if s.warning %}<p class="note">{{ s.warning }}</p>{% endif %}
</div>
{% endfor %}
</section>
{% endif %}

<section id="relations">
<h2>How the scores relate</h2>
<div class="row">
{% if correlation.names %}
<div class="panel"><h3>Correlation</h3>
<table><tr><th>Pearson, all rows</th>{% for n in correlation.names %}<th>{{ n }}</th>{% endfor %}</tr>
{% for name, cells in correlation.pearson %}<tr><td>{{ name }}</td>{% for text, bg in cells %}<td style="background:{{ bg }}">{{ text }}</td>{% endfor %}</tr>
{% endfor %}</table>
<table style="margin-top:10px"><tr><th>Spearman, sample of {{ "{:,}".format(correlation.sample) }}</th>{% for n in correlation.names %}<th>{{ n }}</th>{% endfor %}</tr>
{% for name, cells in correlation.spearman %}<tr><td>{{ name }}</td>{% for text, bg in cells %}<td style="background:{{ bg }}">{{ text }}</td>{% endfor %}</tr>
{% endfor %}</table></div>
{% endif %}
{% if scatter %}
<div class="panel"><h3>{{ scatter.y }} against {{ scatter.x }}</h3>
{{ scatter.chart }}
<p class="note">{{ "{:,}".format(scatter.points) }} sampled rows{% if scatter.kept %}; <span class="swatch" style="background:{{ scatter.kept.colour }}"></span>kept by {{ scatter.kept.name }}, <span class="swatch" style="background:#b8bcc4"></span>dropped{% endif %}</p></div>
{% endif %}
</div>
</section>

{% if overlap %}
<section id="overlap">
<h2>Overlap between subsets</h2>
<div class="row">
<div class="panel"><h3>Rows in each combination</h3>
<table><tr>{% for s in selections %}<th><span class="swatch" style="background:{{ s.colour }}"></span>{{ s.name }}</th>{% endfor %}<th>rows</th><th>share</th></tr>
{% for p in overlap.patterns %}<tr>{% for inside in p.marks %}<td class="mark">{{ "●" if inside else "○" }}</td>{% endfor %}<td>{{ "{:,}".format(p.count) }}</td><td class="nowrap">{{ "{:.2%}".format(p.share) }}<span class="bar"><span style="width:{{ "%.1f" | format(p.bar) }}%;background:#5b6270"></span></span></td></tr>
{% endfor %}</table></div>
<div class="panel"><h3>Pairs: rows in both (Jaccard)</h3>
<table><tr><th></th>{% for s in selections %}<th>{{ s.name }}</th>{% endfor %}</tr>
{% for name, cells in overlap.pairs %}<tr><td>{{ name }}</td>{% for c in cells %}<td>{{ c }}</td>{% endfor %}</tr>
{% endfor %}</table></div>
</div>
</section>
{% endif %}

{% if labels %}
<section id="labels">
<h2>Kept share per ground-truth label <span class="muted">({{ labels.column }})</span></h2>
<div class="panel">
<table><tr><th>subset</th>{% for n in labels.names %}<th>{{ n }}</th>{% endfor %}</tr>
<tr><td class="muted">(rows in the run)</td>{% for c in labels.rows %}<td class="muted">{{ "{:,}".format(c) }}</td>{% endfor %}</tr>
{% for r in labels.subsets %}<tr><td><span class="swatch" style="background:{{ r.colour }}"></span>{{ r.name }}</td>{% for text, pct in r.cells %}<td class="nowrap">{{ text }}<span class="bar"><span style="width:{{ "%.1f" | format(pct) }}%;background:{{ r.colour }}"></span></span></td>{% endfor %}</tr>
{% endfor %}</table>
{% if labels.unlabelled %}<p class="note">{{ "{:,}".format(labels.unlabelled) }} rows have no label.</p>{% endif %}
</div>
</section>
{% endif %}

{% if bench %}
<section id="bench">
<h2>Bench: zero-shot accuracy of a student trained on each subset</h2>
<div class="panel"><pre>{{ bench.table }}</pre></div>
<div class="panel"><h3>Average accuracy per method (dots: seeds; bar: mean; line: ± std)</h3>{{ bench.chart }}</div>
{% if bench.kinds %}<div class="panel"><h3>Share of each kind of sample each subset keeps (world labels)</h3><pre>{{ bench.kinds }}</pre></div>{% endif %}
{% if bench.skipped %}<div class="panel"><h3>Recipes not in the grid</h3><ul>{% for name, reason in bench.skipped %}<li><code>{{ name }}</code>: {{ reason }}</li>{% endfor %}</ul></div>{% endif %}
</section>
{% endif %}

<section id="galleries">
<h2>Galleries</h2>
{% for g in galleries %}
<details{% if g.cards %} open{% endif %}>
<summary>{{ g.title }} <span class="muted">· {{ g.note }} · {{ g.cards | length }} shown</span></summary>
{% if g.cards %}<div class="gallery">
{% for c in g.cards %}<div class="card">
{% if c.image %}<img src="{{ c.image }}" alt="thumbnail of {{ c.uid }}" width="96" height="96">{% elif c.image_note %}<div class="noimg">{{ c.image_note }}</div>{% endif %}
<div class="caption">{% if c.caption is not none %}{{ c.caption }}{% else %}<span class="muted">(no caption in the pool metadata)</span>{% endif %}</div>
{% if c.label %}<span class="label">{{ c.label }}</span>{% endif %}
{% if c.url %}<div>{% if c.link %}<a href="{{ c.url }}" rel="noopener noreferrer nofollow">{{ c.url }}</a>{% else %}{{ c.url }}{% endif %}</div>{% endif %}
<div class="uid">{{ c.uid }} · {{ c.shard }}:{{ c.row }}{% if c.status != "ok" %} · status {{ c.status }}{% endif %}</div>
<div>{% for name, colour, inside in c.kept %}<span class="badge{% if not inside %} out{% endif %}" style="background:{{ colour }}">{{ name }}</span>{% endfor %}</div>
<table>{% for name, value in c.scores %}<tr><td>{{ name }}</td><td>{{ value }}</td></tr>{% endfor %}</table>
{% for name, value in c.texts %}<div><span class="muted">{{ name }}:</span> {{ value }}</div>{% endfor %}
</div>
{% endfor %}</div>{% else %}<p class="muted">no such rows</p>{% endif %}
</details>
{% endfor %}
</section>

<section id="notes">
<h2>Notes</h2>
<div class="panel note">
{% for n in notes %}<p>{{ n }}</p>
{% endfor %}</div>
</section>
</main>
</body>
</html>
"""
