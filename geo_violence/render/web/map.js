/* geo_violence maps: units, hover, popups with a sparkline, labels at zoom, legend, title and the
 * week slider. Every string from the data is set with textContent, never parsed as HTML. */
function geoViolenceMap(map, data) {
  "use strict";
  var SVG = "http://www.w3.org/2000/svg";

  function el(tag, className, text) {
    var node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined && text !== null) node.textContent = String(text);
    return node;
  }

  function svg(tag, attributes) {
    var node = document.createElementNS(SVG, tag);
    Object.keys(attributes).forEach(function (name) { node.setAttribute(name, attributes[name]); });
    return node;
  }

  function table(pairs) {
    var body = el("table", "gv-rows");
    pairs.forEach(function (pair) {
      var row = el("tr");
      row.appendChild(el("th", null, pair[0]));
      row.appendChild(el("td", null, pair[1]));
      body.appendChild(row);
    });
    return body;
  }

  var units = data.units;
  var series = data.series;
  var state = {step: series ? series.dates.length - 1 : -1, byWeek: false};

  function binOf(unit, step) {
    var code = series.bins[unit].charCodeAt(step) - 48;  // "0".."6" for -3..3, "x" untested
    return code >= 0 && code <= 6 ? code - 3 : null;
  }

  function colourOf(unit) {
    if (!state.byWeek) return units[unit].colour;
    var bin = binOf(unit, state.step);
    return bin === null ? data.noData : series.binColours[bin + 3];
  }

  function sparkline(unit) {
    var counts = series.counts[unit];
    var width = 260, height = 56, n = counts.length;
    var fitted = series.fitted ? series.fitted[unit] : null;
    var top = Math.max(1, Math.max.apply(null, counts),
                       fitted ? Math.max.apply(null, fitted) : 0);
    var x = function (i) { return n > 1 ? (i / (n - 1)) * (width - 2) + 1 : width / 2; };
    var y = function (v) { return height - 8 - (v / top) * (height - 12); };
    var chart = svg("svg", {width: width, height: height, viewBox: "0 0 " + width + " " + height,
                            "class": "gv-spark", role: "img"});
    var title = svg("title", {});
    title.textContent = "incidents per " + series.stepName + ", " + series.dates[0] + " to " +
      series.dates[n - 1];
    chart.appendChild(title);
    if (series.bins) {
      for (var i = 0; i < n; i++) {
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
    if (state.step >= 0) {
      chart.appendChild(svg("line", {x1: x(state.step), x2: x(state.step), y1: 0, y2: height - 6,
                                     stroke: "#d95f02", "stroke-width": 1}));
    }
    return chart;
  }

  function hoverContent(unit) {
    var box = el("div", "gv-hover");
    box.appendChild(el("strong", null, units[unit].name));
    var pairs = units[unit].hover.slice();
    if (state.byWeek) {
      pairs.unshift([series.stepName + " of " + series.dates[state.step],
                     series.counts[unit][state.step] + " incidents"]);
    }
    box.appendChild(table(pairs));
    return box;
  }

  function popupContent(unit) {
    var box = el("div", "gv-popup");
    box.appendChild(el("div", "gv-popup-name", units[unit].name));
    if (units[unit].heading) box.appendChild(el("div", "gv-popup-heading", units[unit].heading));
    if (units[unit].sentence) box.appendChild(el("div", "gv-popup-sentence", units[unit].sentence));
    if (series) {
      box.appendChild(sparkline(unit));
      box.appendChild(el("div", "gv-spark-caption",
        "incidents per " + series.stepName + ", " + series.dates[0] + " to " +
        series.dates[series.dates.length - 1] + (series.bins ? "; ticks: hot or cold weeks" : "") +
        (series.fitted ? "; dashed: " + series.fittedLabel : "")));
    }
    box.appendChild(table(units[unit].popup));
    return box;
  }

  var layers = [];
  var shapes = L.geoJSON(data.features, {
    style: function (feature) {
      var outline = units[feature.properties.i].outline;
      return {fillColor: colourOf(feature.properties.i), color: outline || "#555555",
              weight: outline ? 3 : 0.8, fillOpacity: 0.85};
    },
    onEachFeature: function (feature, layer) {
      var unit = feature.properties.i;
      layers[unit] = layer;
      layer.bindTooltip(function () { return hoverContent(unit); }, {sticky: true});
      layer.bindPopup(function () { return popupContent(unit); }, {maxWidth: 300});
      layer.on("mouseover", function () { layer.setStyle({weight: 2.2, color: "#000000"}); });
      layer.on("mouseout", function () {
        var outline = units[unit].outline;
        layer.setStyle({weight: outline ? 3 : 0.8, color: outline || "#555555"});
      });
    }
  }).addTo(map);
  // fit the city once the map has a size: an iframe below the fold or not yet laid out has
  // none when this runs, and a fit on a zero-size map leaves every shape out of view
  var bounds = shapes.getBounds(), fitted = false;
  function fit() {
    map.invalidateSize();
    var size = map.getSize();
    if (!fitted && size.x > 0 && size.y > 0) {
      map.fitBounds(bounds, {padding: [8, 8]});
      fitted = true;
    }
  }
  fit();
  if (!fitted) {
    if (window.ResizeObserver) {
      var observer = new ResizeObserver(function () {
        fit();
        if (fitted) observer.disconnect();
      });
      observer.observe(map.getContainer());
    }
    window.addEventListener("load", fit);
  }

  if (data.basemap) {
    L.tileLayer(data.basemap.url, {attribution: data.basemap.attribution, maxZoom: 19})
      .addTo(map).bringToBack();
  }

  // names on the map once zoomed in: the map must read without tiles
  var labels = L.layerGroup();
  data.labels.forEach(function (point, unit) {
    var icon = L.divIcon({className: "gv-label", html: el("span", null, units[unit].name),
                          iconSize: null});
    L.marker(point, {icon: icon, interactive: false, keyboard: false}).addTo(labels);
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

  control("topleft", function () {
    var box = el("div", "gv-box gv-title");
    box.appendChild(el("div", "gv-title-main", data.title));
    if (data.subtitle) box.appendChild(el("div", "gv-title-sub", data.subtitle));
    if (data.source) box.appendChild(el("div", "gv-title-source", "Source: " + data.source));
    return box;
  });

  var legendRows = el("div");
  function drawLegend() {
    legendRows.textContent = "";
    var rows = state.byWeek ? series.binLegend : data.legend;
    if (state.byWeek) legendRows.appendChild(el("div", "gv-legend-note",
      "Gi* of the " + series.stepName + " of " + series.dates[state.step]));
    rows.forEach(function (row) {
      var line = el("div", "gv-legend-row");
      var swatch = el("span", "gv-swatch");
      swatch.style.background = row[0];
      line.appendChild(swatch);
      line.appendChild(el("span", null, row[1]));
      legendRows.appendChild(line);
    });
  }
  control("topright", function () {
    var box = el("div", "gv-box gv-legend");
    box.appendChild(legendRows);
    return box;
  });
  drawLegend();

  function recolour() {
    layers.forEach(function (layer, unit) { layer.setStyle({fillColor: colourOf(unit)}); });
    drawLegend();
  }

  if (series && series.bins) {
    var slider, dateLabel, playButton, backButton, timer = null;
    var setStep = function (step) {
      state.step = step;
      state.byWeek = true;
      slider.value = step;
      dateLabel.textContent = series.stepName + " of " + series.dates[step];
      backButton.disabled = false;
      recolour();
    };
    var stop = function () {
      if (timer !== null) { clearInterval(timer); timer = null; }
      playButton.textContent = "\u25B6";
      playButton.setAttribute("aria-label", "play");
    };
    control("bottomleft", function () {
      var box = el("div", "gv-box gv-timeline");
      playButton = el("button", "gv-play", "\u25B6");
      playButton.type = "button";
      playButton.setAttribute("aria-label", "play");
      slider = el("input", "gv-slider");
      slider.type = "range";
      slider.min = 0;
      slider.max = series.dates.length - 1;
      slider.value = state.step;
      slider.setAttribute("aria-label", series.stepName);
      dateLabel = el("span", "gv-date", "categories over " + series.dates.length + " " +
                     series.stepName + "s; move the slider for each " + series.stepName);
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
        dateLabel.textContent = "categories over " + series.dates.length + " " +
          series.stepName + "s";
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
  document.title = data.title;
  return {map: map, layers: layers, state: state, setStep: setStep};
}
