// Segment charts: each <div data-chart="kind" data-source="json-script-id"> is drawn with the
// vendored plotly. Data comes from Django's json_script, never from another origin.
(function () {
  "use strict";

  var FONT = { family: 'system-ui, -apple-system, "Segoe UI", Roboto, sans-serif', size: 12, color: "#1f2328" };
  var CONFIG = { displaylogo: false, responsive: true, modeBarButtonsToRemove: ["lasso2d", "select2d", "autoScale2d"] };
  var GRID = "#eee9e2";

  function base(extra) {
    var layout = {
      font: FONT,
      paper_bgcolor: "rgba(0,0,0,0)",
      plot_bgcolor: "rgba(0,0,0,0)",
      margin: { l: 56, r: 24, t: 16, b: 40 },
      legend: { orientation: "h", y: -0.18 },
      hoverlabel: { font: FONT },
    };
    return Object.assign(layout, extra || {});
  }

  function sizes(el, data) {
    var traces = data.series.map(function (s) {
      return {
        type: "bar", name: s.name, x: data.periods, y: s.customers,
        marker: { color: s.color },
        hovertemplate: "%{x}<br>" + s.name.replace(/%/g, "%%") + ": %{y:,} customers<extra></extra>",
      };
    });
    Plotly.newPlot(el, traces, base({
      barmode: "stack",
      height: 360,
      xaxis: { type: "category", gridcolor: GRID },
      yaxis: { title: { text: "customers" }, gridcolor: GRID, tickformat: "~s" },
      legend: { orientation: "h", y: -0.22 },
    }), CONFIG);
  }

  function kCurve(el, data) {
    var ks = data.k_curve.map(function (p) { return p.k; });
    var chosen = data.k_curve.filter(function (p) { return p.k === data.k; })[0];
    var traces = [
      { type: "scatter", mode: "lines+markers", name: "inertia (lower is tighter)", x: ks,
        y: data.k_curve.map(function (p) { return p.inertia; }), line: { color: "#5d6d7e" },
        hovertemplate: "K=%{x}<br>inertia %{y:,.0f}<extra></extra>" },
      { type: "scatter", mode: "lines+markers", name: "silhouette (higher is better separated)", x: ks,
        y: data.k_curve.map(function (p) { return p.silhouette; }), yaxis: "y2",
        line: { color: "#d35400" }, hovertemplate: "K=%{x}<br>silhouette %{y:.3f}<extra></extra>" },
    ];
    var layout = base({
      height: 360,
      xaxis: { title: { text: "number of segments (K)" }, dtick: 1, gridcolor: GRID },
      yaxis: { title: { text: "inertia" }, gridcolor: GRID, tickformat: "~s" },
      yaxis2: { title: { text: "silhouette" }, overlaying: "y", side: "right", showgrid: false },
      margin: { l: 56, r: 56, t: 28, b: 40 },
      legend: { orientation: "h", y: -0.3 },
      shapes: [{ type: "line", x0: data.k, x1: data.k, yref: "paper", y0: 0, y1: 1,
                 line: { color: "#2b1d14", dash: "dot", width: 1.5 } }],
      annotations: [{ x: data.k, yref: "paper", y: 1.02, yanchor: "bottom", showarrow: false,
                      text: "chosen K = " + data.k + (chosen ? "" : " (not on the curve)") }],
    });
    Plotly.newPlot(el, traces, layout, CONFIG);
  }

  function profile(el, data) {
    var rows = 1 + data.features.length;
    var traces = [{
      type: "scatter", mode: "lines+markers", name: "customers", x: data.periods, y: data.customers,
      line: { color: data.color, width: 3 }, showlegend: false,
      hovertemplate: "%{x}<br>%{y:,} customers<extra></extra>",
    }];
    var annotations = [{ text: "<b>customers</b>", xref: "paper", x: 0, xanchor: "left",
                         yref: "y domain", y: 1.0, yanchor: "bottom", showarrow: false }];
    var layout = base({
      height: 170 * rows + 40,
      grid: { rows: rows, columns: 1, pattern: "coupled", roworder: "top to bottom", ygap: 0.45 },
      xaxis: { type: "category", gridcolor: GRID },
      yaxis: { gridcolor: GRID, tickformat: "~s", rangemode: "tozero" },
      margin: { l: 56, r: 24, t: 24, b: 40 },
      legend: { orientation: "h", y: -0.08 },
    });
    data.features.forEach(function (f, i) {
      var axis = "y" + (i + 2);
      var format = f.percent ? ".0%" : ",.2f";
      traces.push({
        type: "scatter", mode: "lines+markers", name: "this segment", legendgroup: "segment",
        showlegend: i === 0, x: data.periods, y: f.segment, yaxis: axis,
        line: { color: data.color, width: 2.5 },
        hovertemplate: "%{x}<br>" + f.label + ": %{y:" + format + "}<extra>segment</extra>",
      });
      traces.push({
        type: "scatter", mode: "lines", name: "all customers", legendgroup: "population",
        showlegend: i === 0, x: data.periods, y: f.population, yaxis: axis,
        line: { color: "#9aa0a6", dash: "dash", width: 1.5 },
        hovertemplate: "%{x}<br>" + f.label + ": %{y:" + format + "}<extra>all customers</extra>",
      });
      layout["yaxis" + (i + 2)] = { gridcolor: GRID, tickformat: f.percent ? ".0%" : "~s", rangemode: "tozero" };
      annotations.push({ text: "<b>" + f.label + "</b>", xref: "paper", x: 0, xanchor: "left",
                         yref: axis + " domain", y: 1.0, yanchor: "bottom", showarrow: false });
    });
    layout.annotations = annotations;
    Plotly.newPlot(el, traces, layout, CONFIG);
  }

  // A receipt's slots: chosen offers and their runners-up, by goal value, one bar each.
  function scores(el, data) {
    var traces = ["chosen", "runner-up"].map(function (role) {
      var rows = data.bars.filter(function (b) { return b.role === role; });
      return {
        type: "bar", orientation: "h", name: role,
        y: rows.map(function (b) { return b.label; }),
        x: rows.map(function (b) { return b.goal_value; }),
        customdata: rows.map(function (b) { return [b.score, b.goal]; }),
        marker: { color: role === "chosen" ? "#c2410c" : "#cbd5e1" },
        hovertemplate: "%{y}<br>goal value %{x:.4f}<br>score %{customdata[0]:.4f} (%{customdata[1]})<extra></extra>",
      };
    });
    Plotly.newPlot(el, traces, base({
      height: Math.max(160, 28 * data.bars.length + 60),
      margin: { l: 260, r: 24, t: 8, b: 40 },
      yaxis: { autorange: "reversed", categoryorder: "array", categoryarray: data.bars.map(function (b) { return b.label; }) },
      xaxis: { title: { text: "goal value (score x value of the slot's goal)" }, gridcolor: GRID },
    }), CONFIG);
  }

  var TREATED = "#c2410c";
  var HOLDOUT = "#9aa0a6";

  // A redemption-rate axis from 0 to a fifth above the highest rate. Rates are often a few
  // percent or none yet: whole-percent ticks would then repeat ("0%, 0%, 1%, 1%").
  function rateAxis(top) {
    return { title: { text: "redemption rate" }, gridcolor: GRID, rangemode: "tozero",
             tickformat: top < 0.1 ? ".1%" : ".0%", range: [0, (top || 0.01) * 1.2] };
  }

  // Offer performance: treated against holdout redemption rate per segment, lift above each.
  function performanceLift(el, data) {
    var labels = data.segments.map(function (s) { return s.label; });
    var traces = [["treated", TREATED], ["holdout", HOLDOUT]].map(function (group) {
      return {
        type: "bar", name: group[0], x: labels, marker: { color: group[1] },
        y: data.segments.map(function (s) { return s[group[0]]; }),
        hovertemplate: "%{x}<br>" + group[0] + " redemption rate %{y:.1%}<extra></extra>",
      };
    });
    var top = Math.max.apply(null, [0].concat(data.segments.map(function (s) {
      return Math.max(s.treated || 0, s.holdout || 0);
    })));
    Plotly.newPlot(el, traces, base({
      barmode: "group",
      height: 380,
      margin: { l: 56, r: 24, t: 48, b: 40 },
      // Long segment names wrap onto lines instead of tilting into each other.
      xaxis: { type: "category", automargin: true, tickangle: 0, tickvals: labels,
               ticktext: categoryTicks(el, labels) },
      yaxis: rateAxis(top),
      legend: TOP_LEGEND,
      annotations: data.segments.map(function (s) {
        return { x: s.label, y: Math.max(s.treated || 0, s.holdout || 0), yanchor: "bottom",
                 yshift: 2, showarrow: false, font: { size: 11, color: "#2b1d14" },
                 text: s.lift === null ? "" : "lift " + s.lift_text + (s.too_few ? "*" : ""),
                 hovertext: "95% interval " + s.interval_text };
      }),
    }), CONFIG);
  }

  var TICK_WIDTH = 90;  // pixels a batch label ("03-08 #12") needs, with room around it
  // The legend above the plot, clear of the category labels below it.
  var TOP_LEGEND = { orientation: "h", x: 0, xanchor: "left", y: 1.02, yanchor: "bottom" };

  // Segment names wrapped to the width each category has; when that is too narrow for
  // words, the segment's key ("#3", the name in the hover and the tables below).
  function categoryTicks(el, labels) {
    var width = Math.floor((el.clientWidth - 90) / Math.max(labels.length, 1) / 7);
    return labels.map(function (label) {
      if (width >= 12) { return wrapped(label, width); }
      var key = label.match(/\(#(\d+)\)$/);
      return key ? "#" + key[1] : label.split(" ")[0];
    });
  }

  function wrapped(text, width) {
    var lines = [""];
    text.split(" ").forEach(function (word) {
      var last = lines[lines.length - 1];
      if (last && (last + " " + word).length > width) { lines.push(word); }
      else { lines[lines.length - 1] = last ? last + " " + word : word; }
    });
    return lines.join("<br>");
  }

  // Offer performance over time: one point per activated batch, the shown batch marked.
  function performanceHistory(el, data) {
    var labels = data.batches.map(function (b) { return b.label; });
    var traces = [["treated", TREATED, "solid"], ["holdout", HOLDOUT, "dash"]].map(function (group) {
      return {
        type: "scatter", mode: "lines+markers", name: group[0], x: labels,
        y: data.batches.map(function (b) { return b[group[0] + "_rate"]; }),
        customdata: data.batches.map(function (b) { return b[group[0] + "_assignments"]; }),
        line: { color: group[1], dash: group[2], width: 2.5 },
        hovertemplate: "batch %{x}<br>" + group[0] + " redemption rate %{y:.1%}" +
          " of %{customdata:,} assignments<extra></extra>",
      };
    });
    var top = Math.max.apply(null, [0].concat(data.batches.map(function (b) {
      return Math.max(b.treated_rate || 0, b.holdout_rate || 0);
    })));
    var current = data.batches.filter(function (b) { return b.batch === data.current; })[0];
    // As many level labels as the width holds, the shown batch's always among them.
    var room = Math.max(2, Math.floor((el.clientWidth - 80) / TICK_WIDTH));
    var every = Math.ceil(labels.length / room);
    var ticks = labels.filter(function (l, i) {
      return (labels.length - 1 - i) % every === 0 || (current && l === current.label);
    });
    Plotly.newPlot(el, traces, base({
      height: 380,
      margin: { l: 56, r: 24, t: 48, b: 40 },
      // Half a category of room on each side: the first and last batch are not on the axes.
      xaxis: { type: "category", gridcolor: GRID, automargin: true, range: [-0.5, labels.length - 0.5],
               tickangle: 0, tickvals: ticks, ticktext: ticks.map(function (l) { return l.slice(5); }) },
      yaxis: rateAxis(top),
      legend: TOP_LEGEND,
      shapes: current ? [{ type: "line", x0: current.label, x1: current.label, yref: "paper", y0: 0, y1: 1,
                           line: { color: "#2b1d14", dash: "dot", width: 1.5 } }] : [],
      annotations: current ? [{ x: current.label, yref: "paper", y: 1.02, yanchor: "bottom",
                                showarrow: false, text: "shown batch" }] : [],
    }), CONFIG);
  }

  // Movements: flows between two periods, left nodes then, right nodes later.
  function movementSankey(el, data) {
    var links = data.sankey.links;
    var half = data.sankey.labels.length / 2;
    var trace = {
      type: "sankey", arrangement: "snap", valueformat: ",d",
      node: {
        label: data.sankey.labels, color: data.sankey.colors, pad: 14, thickness: 16,
        line: { color: "#ffffff", width: 0.5 },
        customdata: data.sankey.labels.map(function (_, i) { return i < half ? "then" : "later"; }),
        hovertemplate: "%{label} (%{customdata})<br>%{value:,} customers<extra></extra>",
      },
      link: {
        source: links.map(function (l) { return l.source; }),
        target: links.map(function (l) { return l.target; }),
        value: links.map(function (l) { return l.value; }),
        color: links.map(function (l) { return fade(data.sankey.colors[l.source]); }),
        hovertemplate: "%{source.label} → %{target.label}<br>%{value:,} customers<extra></extra>",
      },
    };
    Plotly.newPlot(el, [trace], base({ height: 420, margin: { l: 8, r: 8, t: 8, b: 8 } }), CONFIG);
  }

  function fade(hex) {
    var n = parseInt(hex.slice(1), 16);
    if (hex.length === 4) {
      n = parseInt(hex[1] + hex[1] + hex[2] + hex[2] + hex[3] + hex[3], 16);
    }
    return "rgba(" + ((n >> 16) & 255) + "," + ((n >> 8) & 255) + "," + (n & 255) + ",0.4)";
  }

  // Movements: the matrix as shares of each row, the count in every cell.
  function movementHeatmap(el, data) {
    var h = data.heatmap;
    var text = h.count.map(function (row) {
      return row.map(function (n) { return n === null ? "" : n.toLocaleString(); });
    });
    var names = h.row_names.map(function (from) {
      return h.column_names.map(function (to) { return [from, to]; });
    });
    var trace = {
      type: "heatmap", x: h.columns, y: h.rows, z: h.share, text: text, customdata: names,
      texttemplate: "%{text}", zmin: 0, zmax: 1, xgap: 2, ygap: 2,
      colorscale: [[0, "#fbf7f2"], [1, "#c2410c"]],
      colorbar: { title: { text: "share" }, tickformat: ".0%", thickness: 12 },
      hovertemplate: "%{customdata[0]} → %{customdata[1]}<br>%{text} customers" +
        " (%{z:.1%} of the row)<extra></extra>",
    };
    Plotly.newPlot(el, [trace], base({
      height: 160 + 44 * h.rows.length,
      margin: { l: 180, r: 24, t: 8, b: 110 },
      xaxis: { type: "category", tickangle: -30, automargin: true, title: { text: "later" } },
      yaxis: { type: "category", autorange: "reversed", automargin: true, title: { text: "then" } },
    }), CONFIG);
  }

  var METHOD_COLORS = ["#c2410c", "#2563eb", "#15803d", "#7c3aed"];

  function trainingCurves(el, data) {
    var traces = [];
    Object.keys(data.methods).forEach(function (name, i) {
      var epochs = data.methods[name];
      var color = METHOD_COLORS[i % METHOD_COLORS.length];
      var x = epochs.map(function (e) { return e.epoch; });
      [["loss", "solid", "y", "loss"], ["validation_loss", "dash", "y", "validation loss"],
       ["validation_hr3", "dot", "y2", "validation HR@3"]]
        .forEach(function (series) {
          traces.push({
            type: "scatter", mode: "lines+markers", name: name + " " + series[3],
            x: x, y: epochs.map(function (e) { return e[series[0]]; }), yaxis: series[2],
            line: { color: color, dash: series[1] },
          });
        });
    });
    Plotly.newPlot(el, traces, base({
      height: 320,
      margin: { l: 56, r: 72, t: 16, b: 40 },
      xaxis: { title: { text: "epoch" }, dtick: 1 },
      yaxis: { title: { text: "loss" } },
      yaxis2: { title: { text: "validation HR@3" }, overlaying: "y", side: "right", rangemode: "tozero" },
      legend: { orientation: "h", y: -0.25 },
    }), CONFIG);
  }

  var KINDS = { sizes: sizes, kCurve: kCurve, profile: profile, scores: scores,
                performanceLift: performanceLift, performanceHistory: performanceHistory,
                movementSankey: movementSankey, movementHeatmap: movementHeatmap,
                trainingCurves: trainingCurves };

  function drawAll() {
    document.querySelectorAll("[data-chart]:not([data-drawn])").forEach(function (el) {
      var source = document.getElementById(el.dataset.source);
      var draw = KINDS[el.dataset.chart];
      if (!source || !draw || typeof Plotly === "undefined") { return; }
      draw(el, JSON.parse(source.textContent));
      el.dataset.drawn = "true";
    });
  }

  document.addEventListener("DOMContentLoaded", drawAll);
  // A run page swaps in its results when the run finishes (htmx).
  document.addEventListener("htmx:afterSettle", drawAll);
})();
