// The script every report page runs (as text: it is inlined into the page after Chart.js). It turns the chart specs
// of <script id="chart-specs"> (bench/report/charts.ts) into Chart.js charts, without animation so that the first
// frame is the final one, then records what it drew for a browser check:
//   canvas[data-marks]  data elements Chart.js laid out (points, bars) with finite coordinates
//   canvas[data-ink]    opaque, saturated pixels inside the plot area (the data colours; grid and text are grey)
//   body[data-render-check] = {"charts": [{chart, marks, ink, width, height, error?}], "headlines": [{id, value,
//   visible}], "height": page height in px}
// Two small plugins: fault windows and instants drawn under the data with their labels stacked in rows so that no
// two overlap, and value labels over bars.
export const BROWSER_SCRIPT = String.raw`
(function () {
  'use strict';
  var FMT = {
    pct: function (v) { return v === 0 || v === 1 ? v * 100 + '%' : (v * 100).toFixed(Math.abs(v) < 0.001 ? 3 : 2) + '%'; },
    prob: function (v) { return v.toFixed(3); },
    us: function (v) {
      if (v >= 1e6) return +(v / 1e6).toPrecision(3) + ' s';
      return v >= 10000 ? +(v / 1000).toPrecision(3) + ' ms' : Math.round(v).toLocaleString('en-US') + ' µs';
    },
    int: function (v) { return Math.round(v).toLocaleString('en-US'); },
    num: function (v) { return String(+v.toPrecision(4)); }
  };
  function fmt(spec) { return FMT[spec.y.format || 'num']; }
  // axis ticks: short (99.5%, not 99.50%); on a log axis only 1, 2 and 5 times a power of ten are labelled
  function tick(spec) {
    var f = fmt(spec);
    return function (v) {
      v = Number(v);
      if (spec.y.log) {
        var m = v / Math.pow(10, Math.floor(Math.log10(v) + 1e-9));
        // over more than two decades only the powers of ten, else 1, 2 and 5 times them
        var wide = spec.y.min > 0 && spec.y.max / spec.y.min > 150;
        if (!(Math.abs(m - 1) < 1e-6 || (!wide && (Math.abs(m - 2) < 1e-6 || Math.abs(m - 5) < 1e-6)))) return '';
      }
      return spec.y.format === 'pct' ? +(v * 100).toPrecision(6) + '%' : f(v);
    };
  }

  var faultPlugin = {
    id: 'faults',
    beforeDatasetsDraw: function (chart, args, opts) {
      var s = opts.spec, ctx = chart.ctx, a = chart.chartArea, x = chart.scales.x;
      if (!s || (!s.bands && !s.vlines)) return;
      ctx.save();
      (s.bands || []).forEach(function (b) {
        var x0 = Math.max(a.left, x.getPixelForValue(b.from)), x1 = Math.min(a.right, x.getPixelForValue(b.to));
        ctx.fillStyle = 'rgba(255, 64, 160, 0.13)';
        ctx.fillRect(x0, a.top, Math.max(1, x1 - x0), a.bottom - a.top);
      });
      (s.vlines || []).forEach(function (v) {
        var px = x.getPixelForValue(v.x);
        ctx.strokeStyle = '#a05'; ctx.setLineDash([4, 3]);
        ctx.beginPath(); ctx.moveTo(px, a.top); ctx.lineTo(px, a.bottom); ctx.stroke();
      });
      ctx.restore();
    },
    afterDatasetsDraw: function (chart, args, opts) {
      var s = opts.spec, ctx = chart.ctx, a = chart.chartArea, x = chart.scales.x;
      if (!s || (!s.bands && !s.vlines)) return;
      var labels = (s.bands || []).map(function (b) { return { at: b.from, text: b.label }; })
        .concat((s.vlines || []).map(function (v) { return { at: v.x, text: v.label }; }))
        .sort(function (p, q) { return p.at - q.at; });
      var rowsEnd = [];
      ctx.save(); ctx.font = '11px system-ui, sans-serif'; ctx.textBaseline = 'top';
      labels.forEach(function (l) {
        var w = ctx.measureText(l.text).width + 6;
        var px = Math.min(Math.max(a.left + 2, x.getPixelForValue(l.at) + 2), a.right - w);
        var row = 0;
        while (row < rowsEnd.length && rowsEnd[row] > px) row++;
        rowsEnd[row] = px + w + 4;
        var py = a.top + 2 + row * 14;
        ctx.fillStyle = 'rgba(255,255,255,0.85)'; ctx.fillRect(px, py - 1, w, 13);
        ctx.fillStyle = '#a05'; ctx.fillText(l.text, px + 3, py);
      });
      ctx.restore();
    }
  };

  var valuePlugin = {
    id: 'values',
    afterDatasetsDraw: function (chart, args, opts) {
      var s = opts.spec;
      if (!s || !s.valueLabels) return;
      var ctx = chart.ctx, f = fmt(s);
      ctx.save(); ctx.font = '11px system-ui, sans-serif'; ctx.fillStyle = '#222'; ctx.textAlign = 'center';
      chart.getSortedVisibleDatasetMetas().forEach(function (meta) {
        meta.data.forEach(function (el, i) {
          var v = chart.data.datasets[meta.index].data[i];
          if (v === null || v === undefined || !isFinite(el.x) || !isFinite(el.y)) return;
          ctx.fillText(f(typeof v === 'object' ? v.y : v), el.x, Math.max(chart.chartArea.top + 10, el.y - 4));
        });
      });
      ctx.restore();
    }
  };

  function dataset(spec, series, i) {
    var palette = ['#1f77b4', '#d62728', '#2ca02c', '#9467bd', '#ff7f0e', '#17becf', '#8c564b', '#e377c2'];
    var color = series.color || palette[i % palette.length];
    var linear = !spec.x.categories;
    var data = linear ? series.data.map(function (p) { return { x: p[0], y: p[1] }; }) : series.data;
    var d = { label: series.name, data: data, borderColor: color, backgroundColor: color };
    if (spec.kind === 'bar') { d.minBarLength = 3; return d; }
    d.borderWidth = series.width || 2; d.borderDash = series.dash || []; d.fill = false; d.tension = 0;
    d.pointStyle = series.point || 'circle'; d.showLine = series.line !== false; d.spanGaps = true;
    d.pointRadius = series.radius === undefined ? 3.5 : series.radius; d.pointHoverRadius = d.pointRadius + 2;
    return d;
  }

  function axis(a, isY, spec) {
    var o = { title: { display: true, text: a.title } };
    if (!isY && a.categories) o.type = 'category';
    else o.type = isY && a.log ? 'logarithmic' : 'linear';
    if (a.min !== undefined) o.min = a.min;
    if (a.max !== undefined) o.max = a.max;
    if (isY) o.ticks = { callback: tick(spec), autoSkip: !a.log };
    return o;
  }

  function config(spec) {
    var legend = spec.legend === undefined ? spec.series.length > 1 : spec.legend;
    return {
      type: spec.kind,
      data: { labels: spec.x.categories, datasets: spec.series.map(function (s, i) { return dataset(spec, s, i); }) },
      options: {
        responsive: false, animation: false, devicePixelRatio: 1,
        plugins: {
          legend: { display: legend, position: 'top', labels: { usePointStyle: spec.kind === 'line', boxWidth: 10 } },
          faults: { spec: spec }, values: { spec: spec },
          tooltip: { callbacks: { label: function (c) { return c.dataset.label + ': ' + fmt(spec)(c.parsed.y); } } }
        },
        scales: { x: axis(spec.x, false, spec), y: axis(spec.y, true, spec) }
      },
      plugins: [faultPlugin, valuePlugin]
    };
  }

  function ink(chart) {
    var a = chart.chartArea, w = Math.floor(a.right - a.left), h = Math.floor(a.bottom - a.top);
    if (w <= 0 || h <= 0) return 0;
    var px = chart.ctx.getImageData(Math.ceil(a.left), Math.ceil(a.top), w, h).data, n = 0;
    for (var i = 0; i < px.length; i += 4) {
      var mx = Math.max(px[i], px[i + 1], px[i + 2]), mn = Math.min(px[i], px[i + 1], px[i + 2]);
      if (px[i + 3] > 200 && mx - mn >= 60) n++;
    }
    return n;
  }

  function draw(spec) {
    var canvas = document.querySelector('canvas[data-chart="' + spec.id + '"]');
    if (!canvas) return { chart: spec.id, marks: 0, ink: 0, width: 0, height: 0, error: 'no canvas' };
    try {
      var chart = new Chart(canvas.getContext('2d'), config(spec));
      var marks = 0;
      chart.getSortedVisibleDatasetMetas().forEach(function (m) {
        m.data.forEach(function (el) { if (!el.skip && isFinite(el.x) && isFinite(el.y)) marks++; });
      });
      var n = ink(chart);
      canvas.setAttribute('data-marks', String(marks));
      canvas.setAttribute('data-ink', String(n));
      return { chart: spec.id, marks: marks, ink: n, width: canvas.width, height: canvas.height };
    } catch (e) {
      return { chart: spec.id, marks: 0, ink: 0, width: 0, height: 0, error: String(e) };
    }
  }

  var specs = JSON.parse(document.getElementById('chart-specs').textContent);
  var charts = typeof Chart === 'undefined'
    ? specs.map(function (s) { return { chart: s.id, marks: 0, ink: 0, width: 0, height: 0, error: 'Chart.js did not load' }; })
    : specs.map(draw);
  var cards = Array.prototype.map.call(document.querySelectorAll('[data-headline]'), function (el) {
    var r = el.getBoundingClientRect(), v = el.querySelector('.v');
    return { id: el.getAttribute('data-headline'), value: v ? v.textContent : '', visible: r.width > 0 && r.height > 0 };
  });
  var height = Math.ceil(document.documentElement.scrollHeight);
  document.body.setAttribute('data-render-check', JSON.stringify({ charts: charts, headlines: cards, height: height }));
})();
`;
