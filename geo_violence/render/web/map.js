/* geo_violence maps: units, hover, popups with a sparkline, labels at zoom, legend, the week
 * slider, a table of every unit, the keyboard, and the height messages of an embedded page.
 * Every string from the data is set with textContent, never parsed as HTML. */
function geoViolenceMap(map, data) {
  "use strict";
  var SVG = "http://www.w3.org/2000/svg";
  var ALPHABET = "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ";
  var DATE = /\d{4}-\d{2}(?:-\d{2})?/g;
  var root = document.documentElement;
  var embedded = window.self !== window.top;

  function el(tag, className, text) {
    var node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined && text !== null) node.textContent = String(text);
    return node;
  }

  // text whose dates never break across lines ("2020-01-" / "01")
  function dated(tag, className, text) {
    var node = el(tag, className), last = 0, match;
    text = String(text);
    DATE.lastIndex = 0;
    while ((match = DATE.exec(text)) !== null) {
      node.appendChild(document.createTextNode(text.slice(last, match.index)));
      node.appendChild(el("span", "gv-nowrap", match[0]));
      last = match.index + match[0].length;
    }
    node.appendChild(document.createTextNode(text.slice(last)));
    return node;
  }

  function svg(tag, attributes) {
    var node = document.createElementNS(SVG, tag);
    Object.keys(attributes).forEach(function (name) { node.setAttribute(name, attributes[name]); });
    return node;
  }

  // the series codec (render/page.py, encode_series): a symbol per value below 62, "(n)" above,
  // "-" for missing, "*k." repeats the value before k more times
  function decode(text) {
    var out = [], i = 0, last = null, end;
    while (i < text.length) {
      var c = text.charAt(i);
      if (c === "*") {
        end = text.indexOf(".", i);
        for (var k = Number(text.slice(i + 1, end)); k > 0; k--) out.push(last);
        i = end + 1;
        continue;
      }
      if (c === "(") {
        end = text.indexOf(")", i);
        last = Number(text.slice(i + 1, end));
        i = end + 1;
      } else {
        last = c === "-" ? null : ALPHABET.indexOf(c);
        i += 1;
      }
      out.push(last);
    }
    return out;
  }

  var names = data.names;
  var n = names.length;
  var fields = data.fields;
  var series = data.series;
  var geometry = data.geometry;
  var state = {step: series ? series.dates.length - 1 : -1, byWeek: false};
  var decoded = {counts: [], bins: [], fitted: []};

  function countsOf(unit) {
    if (!decoded.counts[unit]) {
      decoded.counts[unit] = decode(series.counts[unit]).map(function (v) {
        return v === null ? 0 : Math.round(v * series.countScale * 1000) / 1000;
      });
    }
    return decoded.counts[unit];
  }
  function fittedOf(unit) {
    if (!series.fitted) return null;
    if (!decoded.fitted[unit]) {
      var pair = series.fitted[unit];
      decoded.fitted[unit] = decode(pair[1]).map(function (v) { return (v || 0) * pair[0]; });
    }
    return decoded.fitted[unit];
  }
  function binOf(unit, step) {
    if (!decoded.bins[unit]) decoded.bins[unit] = decode(series.bins[unit]);
    var code = decoded.bins[unit][step];
    return code === null || code === undefined ? null : code - 3;
  }

  function cell(unit, column) { return fields.texts[fields.rows[fields.unitRow[unit]][column]]; }
  function pairs(unit, columns) {
    return columns.map(function (column) { return [fields.columns[column], cell(unit, column)]; });
  }
  function heading(unit) { return fields.heading === null ? "" : cell(unit, fields.heading); }
  function sentence(unit) { return fields.sentence === null ? "" : cell(unit, fields.sentence); }

  function latLng(x, y) {
    return [(geometry.origin[1] + y) / geometry.scale, (geometry.origin[0] + x) / geometry.scale];
  }
  function rings(shape) {
    return shape.map(function (polygon) {
      return polygon.map(function (flat) {
        var points = [], x = 0, y = 0;
        for (var i = 0; i < flat.length; i += 2) {
          x += flat[i];
          y += flat[i + 1];
          points.push(latLng(x, y));
        }
        return points;
      });
    });
  }
  function labelPoint(unit) {
    return L.latLng(latLng(geometry.labels[2 * unit], geometry.labels[2 * unit + 1]));
  }

  // striped fills: an SVG pattern per colour, in the page's own hidden <svg>
  var patterns = {};
  function fillOf(colour) {
    if (colour.indexOf(data.hatched) !== 0) return colour;
    var base = colour.slice(data.hatched.length);
    if (!patterns[base]) {
      var id = "gv-hatch-" + Object.keys(patterns).length;
      var pattern = svg("pattern", {id: id, patternUnits: "userSpaceOnUse", width: 7, height: 7,
                                    patternTransform: "rotate(45)"});
      pattern.appendChild(svg("rect", {width: 7, height: 7, fill: "#ffffff"}));
      pattern.appendChild(svg("rect", {width: 3.5, height: 7, fill: base}));
      document.querySelector(".gv-patterns defs").appendChild(pattern);
      patterns[base] = "url(#" + id + ")";
    }
    return patterns[base];
  }
  function swatch(colour) {
    var node = el("span", "gv-swatch");
    node.setAttribute("aria-hidden", "true");
    if (colour.indexOf(data.hatched) === 0) {
      var base = colour.slice(data.hatched.length);
      node.style.background = "repeating-linear-gradient(45deg, " + base + " 0 3px, #ffffff 3px 6px)";
    } else {
      node.style.background = colour;
    }
    return node;
  }

  function colourOf(unit) {
    if (!state.byWeek) return fillOf(data.palette[data.fill[unit]]);
    var bin = binOf(unit, state.step);
    return bin === null ? data.noData : series.binColours[bin + 3];
  }

  function table(rows) {
    var body = el("table", "gv-rows");
    rows.forEach(function (pair) {
      var row = el("tr");
      var label = el("th", null, pair[0]);
      label.scope = "row";
      row.appendChild(label);
      row.appendChild(dated("td", null, pair[1]));
      body.appendChild(row);
    });
    return body;
  }

  function seriesCaption() {
    return "incidents per " + series.stepName + ", " + series.dates[0] + " to " + series.end;
  }

  function sparkline(unit) {
    var counts = countsOf(unit);
    var width = 260, height = 56, steps = counts.length;
    var fitted = fittedOf(unit);
    var top = Math.max(1, Math.max.apply(null, counts),
                       fitted ? Math.max.apply(null, fitted) : 0);
    var x = function (i) { return steps > 1 ? (i / (steps - 1)) * (width - 2) + 1 : width / 2; };
    var y = function (v) { return height - 8 - (v / top) * (height - 12); };
    var chart = svg("svg", {width: width, height: height, viewBox: "0 0 " + width + " " + height,
                            "class": "gv-spark", role: "img",
                            "aria-label": seriesCaption() + ", largest " + Math.max.apply(null, counts)});
    if (series.bins) {
      for (var i = 0; i < steps; i++) {
        var bin = binOf(unit, i);
        if (bin !== null && bin !== 0) {
          chart.appendChild(svg("rect", {x: x(i) - 0.6, y: height - 6, width: 1.2, height: 6,
                                          fill: series.binColours[bin + 3]}));
        }
      }
    }
    var points = counts.map(function (v, i) { return x(i).toFixed(1) + "," + y(v).toFixed(1); });
    chart.appendChild(svg("polyline", {points: points.join(" "), fill: "none", stroke: "#333",
                                       "stroke-width": 1}));
    if (fitted) {  // the model's expectation: a fitted trend, or what a scan expected
      var line = fitted.map(function (v, i) { return x(i).toFixed(1) + "," + y(v).toFixed(1); });
      chart.appendChild(svg("polyline", {points: line.join(" "), fill: "none", stroke: "#d95f02",
                                         "stroke-width": 1.6, "stroke-dasharray": "4 2"}));
    }
    if (state.step >= 0 && state.byWeek) {
      chart.appendChild(svg("line", {x1: x(state.step), x2: x(state.step), y1: 0, y2: height - 6,
                                     stroke: "#d95f02", "stroke-width": 1}));
    }
    return chart;
  }

  function hoverContent(unit) {
    var box = el("div", "gv-hover");
    box.appendChild(el("strong", null, names[unit]));
    var rows = pairs(unit, fields.hover);
    if (state.byWeek) {
      rows.unshift([series.stepName + " of " + series.dates[state.step],
                    countsOf(unit)[state.step] + " incidents"]);
    }
    box.appendChild(table(rows));
    return box;
  }

  function popupContent(unit) {
    var box = el("div", "gv-popup");
    box.setAttribute("tabindex", "-1");
    box.setAttribute("role", "group");
    box.setAttribute("aria-label", names[unit]);
    box.appendChild(el("div", "gv-popup-name", names[unit]));
    if (heading(unit)) box.appendChild(el("div", "gv-popup-heading", heading(unit)));
    if (sentence(unit)) box.appendChild(el("div", "gv-popup-sentence", sentence(unit)));
    if (series) {
      box.appendChild(sparkline(unit));
      box.appendChild(dated("div", "gv-spark-caption",
        seriesCaption() + (series.bins ? "; ticks: hot or cold " + series.stepName + "s" : "") +
        (series.fitted ? "; dashed: " + series.fittedLabel : "")));
    }
    box.appendChild(table(pairs(unit, fields.popup)));
    return box;
  }

  var outlines = {};
  data.outlines.forEach(function (item) { outlines[item.unit] = item.outline; });
  var thin = n > 1000;  // thousands of cells: a hairline, or the edges hide the colours
  function edge(unit) {
    if (outlines[unit]) return {weight: 3, color: outlines[unit]};
    return thin ? {weight: 0.3, color: "#8a8a8a"} : {weight: 0.8, color: "#555555"};
  }

  var layers = [];
  var shapes = L.featureGroup();
  var lastFocused = null;
  // the keyboard: each unit takes the focus (Tab), Enter or Space opens its popup, Escape
  // closes it and gives the focus back to the unit (a path exists once the map has a view)
  function keyboard(layer, unit) {
    var path = layer.getElement();
    if (!path || path.hasAttribute("tabindex")) return;
    path.setAttribute("tabindex", "0");
    path.setAttribute("role", "button");
    path.setAttribute("aria-label", names[unit] + (heading(unit) ? ": " + heading(unit) : ""));
    path.addEventListener("focus", function () {
      layer.setStyle({weight: 3, color: "#000000"});
      if (!map.getContainer().classList.contains("gv-popup-open")) {
        layer.openTooltip(labelPoint(unit));
      }
    });
    path.addEventListener("blur", function () {
      layer.setStyle(edge(unit));
      layer.closeTooltip();
    });
    path.addEventListener("keydown", function (event) {
      if (event.key === "Enter" || event.key === " ") {
        event.preventDefault();
        lastFocused = path;
        layer.closeTooltip();
        layer.openPopup(labelPoint(unit));
      }
    });
  }
  for (var unit = 0; unit < n; unit++) {
    (function (unit) {
      var style = edge(unit);
      var layer = L.polygon(rings(geometry.shapes[unit]), {
        fillColor: colourOf(unit), color: style.color, weight: style.weight, fillOpacity: 0.85
      });
      layers[unit] = layer;
      layer.bindTooltip(function () { return hoverContent(unit); }, {sticky: true});
      layer.bindPopup(function () { return popupContent(unit); }, {maxWidth: 300});
      layer.on("mouseover", function () { layer.setStyle({weight: 2.2, color: "#000000"}); });
      layer.on("mouseout", function () { layer.setStyle(edge(unit)); });
      layer.on("add", function () { keyboard(layer, unit); });
      layer.addTo(shapes);
    })(unit);
  }
  shapes.addTo(map);

  map.getContainer().addEventListener("keydown", function (event) {
    if (event.key === "Escape" && map.getContainer().classList.contains("gv-popup-open")) {
      map.closePopup();
      if (lastFocused) lastFocused.focus();
    }
  });
  // a popup hides every hover tooltip until it closes
  map.on("popupopen", function (event) {
    map.getContainer().classList.add("gv-popup-open");
    layers.forEach(function (layer) { layer.closeTooltip(); });
    var box = event.popup.getElement().querySelector(".gv-popup");
    if (box && lastFocused) box.focus({preventScroll: true});
  });
  map.on("popupclose", function () {
    map.getContainer().classList.remove("gv-popup-open");
  });
  map.on("click", function () { lastFocused = null; });

  // fit the city once the map has a size (an iframe below the fold or not yet laid out has
  // none when this runs, and a fit on a zero-size map leaves every shape out of view), and again
  // whenever its size changes (a phone turned, an article's column resized) until the reader
  // moves or zooms the map. The size is read from the container itself: Leaflet's getSize()
  // keeps the first size it reads until invalidateSize(), which does nothing before the map has
  // a view, so one early look at a frame not yet laid out (0 x 0) would keep the map empty
  var bounds = shapes.getBounds(), moved = false, fitting = false;
  function fit() {
    var box = map.getContainer();
    if (moved || box.clientWidth === 0 || box.clientHeight === 0 || !bounds.isValid()) return;
    map.invalidateSize();
    fitting = true;
    map.fitBounds(bounds, {padding: [8, 8], animate: false});
    fitting = false;
  }
  map.on("dragstart", function () { moved = true; });
  map.on("zoomstart", function () { if (!fitting) moved = true; });
  fit();
  if (window.ResizeObserver) new ResizeObserver(fit).observe(map.getContainer());
  window.addEventListener("load", fit);
  if (embedded) map.scrollWheelZoom.disable();  // scrolling the article must not zoom the map
  L.control.scale().addTo(map);

  if (data.basemap) {
    L.tileLayer(data.basemap.url, {attribution: data.basemap.attribution, maxZoom: 19})
      .addTo(map).bringToBack();
  }

  // names on the map once zoomed in: the map must read without tiles
  var labels = L.layerGroup();
  names.forEach(function (name, unit) {
    var icon = L.divIcon({className: "gv-label", html: el("span", null, name), iconSize: null});
    L.marker(labelPoint(unit), {icon: icon, interactive: false, keyboard: false}).addTo(labels);
  });
  function showLabels() {
    if (map.getZoom() >= data.labelZoom) labels.addTo(map); else labels.remove();
  }
  map.on("zoomend", showLabels);
  showLabels();

  function control(position, build) {
    var box = L.control({position: position});
    box.onAdd = function () {
      var node = build();
      L.DomEvent.disableClickPropagation(node);
      L.DomEvent.disableScrollPropagation(node);
      return node;
    };
    box.addTo(map);
    return box;
  }

  var legendTitle = document.querySelector(".gv-legend-title");
  var legendHeading = legendTitle ? legendTitle.textContent : "";
  var legendRows = document.querySelector(".gv-legend-rows");
  function drawLegend() {
    legendRows.textContent = "";
    var rows = state.byWeek ? series.binLegend : data.legend;
    if (legendTitle) {
      legendTitle.textContent = "";
      legendTitle.appendChild(dated("span", null, state.byWeek ?
        "Gi* of the " + series.stepName + " of " + series.dates[state.step] : legendHeading));
    }
    var list = el("ul", "gv-legend-list");
    rows.forEach(function (row) {
      var line = el("li", "gv-legend-row");
      line.appendChild(swatch(row[0]));
      line.appendChild(el("span", null, row[1]));
      list.appendChild(line);
    });
    legendRows.appendChild(list);
  }
  drawLegend();

  function recolour() {
    layers.forEach(function (layer, unit) { layer.setStyle({fillColor: colourOf(unit)}); });
    drawLegend();
  }

  var setStep = null;
  if (series && series.bins) {
    var slider, dateLabel, playButton, backButton, timer = null;
    var overview = "categories over " + series.dates.length + " " + series.stepName + "s";
    setStep = function (step) {
      state.step = step;
      state.byWeek = true;
      slider.value = step;
      slider.setAttribute("aria-valuetext", series.stepName + " of " + series.dates[step]);
      dateLabel.textContent = series.stepName + " of " + series.dates[step];
      backButton.disabled = false;
      recolour();
    };
    var stop = function () {
      if (timer !== null) { clearInterval(timer); timer = null; }
      playButton.textContent = "\u25B6";
      playButton.setAttribute("aria-label", "play the " + series.stepName + "s");
    };
    control("bottomleft", function () {
      var box = el("div", "gv-box gv-timeline");
      playButton = el("button", "gv-play", "\u25B6");
      playButton.type = "button";
      playButton.setAttribute("aria-label", "play the " + series.stepName + "s");
      slider = el("input", "gv-slider");
      slider.type = "range";
      slider.min = 0;
      slider.max = series.dates.length - 1;
      slider.value = state.step;
      slider.setAttribute("aria-label", "colour by the Gi* of one " + series.stepName);
      dateLabel = el("span", "gv-date", overview);
      dateLabel.appendChild(el("span", "gv-hint", "; move the slider for each " + series.stepName));
      dateLabel.setAttribute("aria-live", "polite");
      backButton = el("button", "gv-back", "categories");
      backButton.type = "button";
      backButton.disabled = true;
      slider.addEventListener("input", function () { stop(); setStep(Number(slider.value)); });
      playButton.addEventListener("click", function () {
        if (timer !== null) { stop(); return; }
        if (state.step >= series.dates.length - 1 || !state.byWeek) setStep(0);
        playButton.textContent = "\u275A\u275A";
        playButton.setAttribute("aria-label", "pause");
        timer = setInterval(function () {
          if (state.step >= series.dates.length - 1) { stop(); return; }
          setStep(state.step + 1);
        }, data.playMilliseconds);
      });
      backButton.addEventListener("click", function () {
        stop();
        state.byWeek = false;
        backButton.disabled = true;
        dateLabel.textContent = overview;
        recolour();
      });
      var top = el("div", "gv-timeline-row");
      top.appendChild(playButton);
      top.appendChild(slider);
      box.appendChild(top);
      var bottom = el("div", "gv-timeline-row");
      bottom.appendChild(dateLabel);
      bottom.appendChild(backButton);
      box.appendChild(bottom);
      return box;
    });
  }

  // every unit's figures as a table, built when first opened (the popups' own texts)
  var details = document.querySelector("details.gv-table");
  var tableBox = document.querySelector(".gv-table-wrap");
  function buildTable() {
    if (!tableBox || tableBox.firstChild) return;
    var showHeading = fields.heading !== null && fields.headingShown;
    var columns = fields.hover.concat(fields.popup.filter(function (c) {
      return fields.hover.indexOf(c) < 0;
    }));
    var grid = el("table", "gv-data");
    grid.appendChild(dated("caption", null, data.title + (data.subtitle ? ", " + data.subtitle : "") +
                           ": " + n + " units"));
    var head = el("thead"), row = el("tr");
    var header = ["name"].concat(showHeading ? [fields.headingLabel] : [],
                                 columns.map(function (c) { return fields.columns[c]; }));
    header.forEach(function (text) {
      var th = el("th", null, text);
      th.scope = "col";
      row.appendChild(th);
    });
    head.appendChild(row);
    grid.appendChild(head);
    var body = el("tbody");
    for (var unit = 0; unit < n; unit++) {
      row = el("tr");
      var name = el("th", null, names[unit]);
      name.scope = "row";
      row.appendChild(name);
      if (showHeading) row.appendChild(el("td", null, heading(unit)));
      for (var c = 0; c < columns.length; c++) row.appendChild(el("td", null, cell(unit, columns[c])));
      body.appendChild(row);
    }
    grid.appendChild(body);
    tableBox.appendChild(grid);
  }
  if (details) {
    details.addEventListener("toggle", function () {
      if (details.open) buildTable();
      sendHeight();
    });
    if (details.open) buildTable();
  }
  var skip = document.querySelector(".gv-skip");
  if (skip && details) {
    skip.addEventListener("click", function () {
      details.open = true;
      buildTable();
    });
  }

  // an embedded page tells its host its height, in Pym.js's messages (NPR's protocol):
  // "pymxPYMx" + id + "xPYMxheightxPYMx" + pixels, the id from the childId query parameter
  var childId = (/[?&]childId=([^&#]*)/.exec(window.location.search) || [])[1] || "";
  var lastHeight = -1;
  function sendHeight() {
    if (!embedded) return;
    var height = document.body.offsetHeight;
    if (height === lastHeight) return;
    lastHeight = height;
    window.parent.postMessage("pymxPYMx" + decodeURIComponent(childId) + "xPYMxheightxPYMx" +
                              height, "*");
  }
  if (embedded) {
    window.addEventListener("message", function (event) {
      if (event.source !== window.parent || typeof event.data !== "string") return;
      if (event.data.indexOf("xPYMxwidthxPYMx") > 0) { lastHeight = -1; sendHeight(); }
    });
    if (window.ResizeObserver) new ResizeObserver(sendHeight).observe(document.body);
    window.addEventListener("load", sendHeight);
    window.addEventListener("resize", sendHeight);
    sendHeight();
  }
  root.classList.add("gv-ready");
  return {map: map, layers: layers, state: state, setStep: setStep, sendHeight: sendHeight};
}
