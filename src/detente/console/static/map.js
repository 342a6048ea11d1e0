// Pan and zoom of the console's map (<svg id="map">, drawn by basemap.py)
// by changing its viewBox: wheel zooms about the pointer, a drag pans, and
// with the map focused the arrow keys pan, + and - zoom and 0 resets.
// Buttons anywhere on the page with data-map-action="zoom-in|zoom-out|
// reset|left|right|up|down" do the same. Markers (class "glyph") keep one
// size on screen, also those of units and alerts swapped in live. window.DetenteMap.project() is the projection of
// projection.py, with its constants read from the svg's data-* attributes.
// After each change of view the svg fires "detente-map-view".
"use strict";

(() => {
  const svg = document.getElementById("map");
  if (!(svg instanceof SVGSVGElement)) {
    return;
  }
  const WIDTH = Number(svg.dataset.worldWidth);
  const MAX_LAT = Number(svg.dataset.maxLatitude);
  const RADIUS = WIDTH / (2 * Math.PI);
  const ZOOM_STEP = 1.5;
  const PAN_STEP = 0.2; // of the view's size, per key press
  const MIN_WIDTH = 4; // user units: about 40 km; the base map shows no more
  const DRAG_THRESHOLD = 3; // pixels a press moves before it is a drag

  const parseBox = (text) => {
    const [x, y, width, height] = text.trim().split(/[\s,]+/).map(Number);
    return { x, y, width, height };
  };
  const home = parseBox(svg.dataset.home);
  const world = parseBox(svg.dataset.world);
  let view = { ...home };

  // The same operations, in the same order, as projection.project().
  const project = (lon, lat) => {
    const clipped = Math.max(-MAX_LAT, Math.min(MAX_LAT, lat));
    const x = ((lon + 180) * WIDTH) / 360;
    const y = WIDTH / 2 - RADIUS * Math.log(Math.tan(Math.PI / 4 + (clipped * Math.PI) / 360));
    return [x, y];
  };

  const unitsPerPixel = () => {
    const ctm = svg.getScreenCTM();
    return ctm && ctm.a > 0 ? 1 / ctm.a : view.width / Math.max(svg.clientWidth, 1);
  };

  const show = (next) => {
    const aspect = next.width / next.height;
    const maxWidth = Math.max(world.width, world.height * aspect) * 1.1;
    const width = Math.min(Math.max(next.width, MIN_WIDTH), maxWidth);
    const height = width / aspect;
    // Keep the view's centre over the world.
    const cx = Math.min(Math.max(next.x + next.width / 2, world.x), world.x + world.width);
    const cy = Math.min(Math.max(next.y + next.height / 2, world.y), world.y + world.height);
    view = { x: cx - width / 2, y: cy - height / 2, width, height };
    svg.setAttribute("viewBox", [view.x, view.y, view.width, view.height].join(" "));
    const scale = `scale(${unitsPerPixel()})`;
    for (const glyph of svg.querySelectorAll(".glyph")) {
      glyph.setAttribute("transform", scale);
    }
    svg.dispatchEvent(new CustomEvent("detente-map-view", { detail: { ...view } }));
  };

  // Zoom by factor (< 1 zooms in) keeping the user-space point (px, py) still.
  const zoom = (factor, px = view.x + view.width / 2, py = view.y + view.height / 2) => {
    const width = Math.max(view.width * factor, MIN_WIDTH);
    const actual = width / view.width;
    show({
      x: px - (px - view.x) * actual,
      y: py - (py - view.y) * actual,
      width,
      height: view.height * actual,
    });
  };

  const pan = (dx, dy) => show({ ...view, x: view.x + dx, y: view.y + dy });

  const actions = {
    "zoom-in": () => zoom(1 / ZOOM_STEP),
    "zoom-out": () => zoom(ZOOM_STEP),
    reset: () => show({ ...home }),
    left: () => pan(-view.width * PAN_STEP, 0),
    right: () => pan(view.width * PAN_STEP, 0),
    up: () => pan(0, -view.height * PAN_STEP),
    down: () => pan(0, view.height * PAN_STEP),
  };

  const keys = {
    ArrowLeft: "left",
    ArrowRight: "right",
    ArrowUp: "up",
    ArrowDown: "down",
    "+": "zoom-in",
    "=": "zoom-in",
    "-": "zoom-out",
    _: "zoom-out",
    0: "reset",
    Home: "reset",
  };

  svg.addEventListener("keydown", (event) => {
    const action = keys[event.key];
    if (!action || event.ctrlKey || event.metaKey || event.altKey) {
      return;
    }
    event.preventDefault();
    actions[action]();
  });

  document.addEventListener("click", (event) => {
    const button = event.target instanceof Element && event.target.closest("[data-map-action]");
    const action = button && actions[button.dataset.mapAction];
    if (action) {
      event.preventDefault();
      action();
    }
  });

  const toUser = (event) => {
    const ctm = svg.getScreenCTM();
    if (!ctm) {
      return [view.x + view.width / 2, view.y + view.height / 2];
    }
    const point = new DOMPoint(event.clientX, event.clientY).matrixTransform(ctm.inverse());
    return [point.x, point.y];
  };

  svg.addEventListener(
    "wheel",
    (event) => {
      event.preventDefault();
      const lines = event.deltaMode === WheelEvent.DOM_DELTA_LINE ? 16 : 1;
      const factor = Math.exp(Math.max(-1, Math.min(1, event.deltaY * lines * 0.002)));
      zoom(factor, ...toUser(event));
    },
    { passive: false },
  );

  let press = null; // { id, x, y, dragging }
  svg.addEventListener("pointerdown", (event) => {
    if (event.button === 0) {
      press = { id: event.pointerId, x: event.clientX, y: event.clientY, dragging: false };
    }
  });
  svg.addEventListener("pointermove", (event) => {
    if (!press || event.pointerId !== press.id) {
      return;
    }
    const dx = event.clientX - press.x;
    const dy = event.clientY - press.y;
    if (!press.dragging && Math.hypot(dx, dy) < DRAG_THRESHOLD) {
      return;
    }
    if (!press.dragging) {
      press.dragging = true;
      svg.setPointerCapture(event.pointerId);
      svg.classList.add("dragging");
    }
    const units = unitsPerPixel();
    press.x = event.clientX;
    press.y = event.clientY;
    pan(-dx * units, -dy * units);
  });
  const release = (event) => {
    if (press && event.pointerId === press.id) {
      press = null;
      svg.classList.remove("dragging");
    }
  };
  svg.addEventListener("pointerup", release);
  svg.addEventListener("pointercancel", release);

  new ResizeObserver(() => show(view)).observe(svg);
  // console.js swaps in the live picture of units and alerts (trackmap.py):
  // its markers take the view's scale at once.
  new MutationObserver(() => show(view)).observe(svg, { childList: true, subtree: true });

  window.DetenteMap = Object.freeze({ project, svg });
})();
