// The lineage DAG as SVG: layers by longest path from the roots, order within a layer by the mean
// position of the upstreams (one sweep), curved edges, pan by dragging and zoom with the wheel.
"use strict";

const DAG = (() => {
  const NS = "http://www.w3.org/2000/svg";
  const W = 190, H = 42, GAP_X = 70, GAP_Y = 22;

  function layers(nodes, edges) {
    const ups = new Map(nodes.map((n) => [n.key, []]));
    edges.forEach((e) => ups.has(e.to) && ups.get(e.to).push(e.from));
    const depth = new Map();
    const visit = (key) => {
      if (!depth.has(key)) {
        depth.set(key, 0); // nodes arrive in topological order; this guards a malformed graph
        depth.set(key, Math.max(0, ...ups.get(key).filter((u) => ups.has(u)).map((u) => visit(u) + 1)));
      }
      return depth.get(key);
    };
    nodes.forEach((n) => visit(n.key));
    const columns = [];
    nodes.forEach((n) => (columns[depth.get(n.key)] ||= []).push(n.key));
    const row = new Map();
    columns.forEach((column, i) => {
      if (i > 0) {
        const mean = (k) => {
          const rows = ups.get(k).filter((u) => row.has(u)).map((u) => row.get(u));
          return rows.length ? rows.reduce((a, b) => a + b, 0) / rows.length : 0;
        };
        column.sort((a, b) => mean(a) - mean(b));
      }
      column.forEach((k, j) => row.set(k, j));
    });
    const at = new Map();
    nodes.forEach((n) => at.set(n.key, { x: depth.get(n.key) * (W + GAP_X), y: row.get(n.key) * (H + GAP_Y) }));
    return at;
  }

  function el(name, attrs, parent) {
    const node = document.createElementNS(NS, name);
    Object.entries(attrs).forEach(([k, v]) => node.setAttribute(k, v));
    if (parent) parent.appendChild(node);
    return node;
  }

  function short(text, n) {
    return text.length > n ? text.slice(0, n - 1) + "…" : text;
  }

  function draw(svg, graph, states, onSelect) {
    const view = svg.querySelector("#viewport");
    view.replaceChildren();
    const at = layers(graph.nodes, graph.edges);
    graph.edges.forEach((e) => {
      const a = at.get(e.from), b = at.get(e.to);
      if (!a || !b) return;
      const x1 = a.x + W, y1 = a.y + H / 2, x2 = b.x, y2 = b.y + H / 2, mid = (x1 + x2) / 2;
      el("path", { class: "edge", d: `M${x1},${y1} C${mid},${y1} ${mid},${y2} ${x2},${y2}`,
        "data-from": e.from, "data-to": e.to }, view);
    });
    graph.nodes.forEach((n) => {
      const p = at.get(n.key);
      const state = states.get(n.key) || "unknown";
      const g = el("g", { class: `node state-${state}`, "data-key": n.key, transform: `translate(${p.x},${p.y})` }, view);
      el("rect", { width: W, height: H }, g);
      el("text", { x: 8, y: 17 }, g).textContent = short(n.key, 28);
      el("text", { x: 8, y: 33, class: "muted" }, g).textContent = `${state} · v${n.feature_version.slice(0, 8)}`;
      el("title", {}, g).textContent = `${n.key}\n${Object.keys(n.fields).join(", ")}`;
      g.addEventListener("click", () => onSelect(n.key));
    });
    return at;
  }

  function panZoom(svg) {
    const view = svg.querySelector("#viewport");
    const t = { x: 20, y: 20, k: 1 };
    const apply = () => view.setAttribute("transform", `translate(${t.x},${t.y}) scale(${t.k})`);
    let drag = null;
    svg.addEventListener("pointerdown", (e) => { drag = { x: e.clientX - t.x, y: e.clientY - t.y }; });
    svg.addEventListener("pointermove", (e) => { if (drag) { t.x = e.clientX - drag.x; t.y = e.clientY - drag.y; apply(); } });
    ["pointerup", "pointerleave"].forEach((name) => svg.addEventListener(name, () => { drag = null; }));
    svg.addEventListener("wheel", (e) => {
      e.preventDefault();
      const box = svg.getBoundingClientRect();
      const mx = e.clientX - box.left, my = e.clientY - box.top;
      const k = Math.min(4, Math.max(0.1, t.k * (e.deltaY < 0 ? 1.15 : 1 / 1.15)));
      t.x = mx - ((mx - t.x) * k) / t.k; t.y = my - ((my - t.y) * k) / t.k; t.k = k; apply();
    }, { passive: false });
    const fit = () => {
      const box = svg.getBoundingClientRect();
      let bb;
      try { bb = view.getBBox(); } catch (err) { return; }
      if (!bb.width || !bb.height || !box.width) return;
      t.k = Math.min(1.5, (box.width - 40) / bb.width, (box.height - 40) / bb.height);
      t.x = 20 - bb.x * t.k; t.y = 20 - bb.y * t.k; apply();
    };
    const center = (p) => {
      const box = svg.getBoundingClientRect();
      t.k = Math.max(t.k, 1);
      t.x = box.width / 2 - (p.x + W / 2) * t.k; t.y = box.height / 2 - (p.y + H / 2) * t.k; apply();
    };
    apply();
    return { fit, center };
  }

  return { draw, panZoom, layers };
})();
