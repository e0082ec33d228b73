// The world map of the dashboard, as SVG in an equirectangular projection: country shapes
// decoded from the vendored world-atlas TopoJSON (Natural Earth), a marker per region holding
// VMs (size: VM count, fill: status, ring: cloud) and a line between every two such regions,
// coloured by RTT (solid: measured or configured, dashed: estimated from the distance).
// Everything a test or a script needs is in data-* attributes.

const SVG_NS = "http://www.w3.org/2000/svg";
const WIDTH = 960;
const HEIGHT = 440; // latitudes 84 N to 58 S: no empty poles
const TOP_LAT = 84;
const DEG = WIDTH / 360;

export const STATUS_COLOURS = {
  Running: "#2f9e44",
  Creating: "#1c7ed6",
  Resuming: "#1c7ed6",
  Rebooting: "#1c7ed6",
  Suspending: "#f08c00",
  Suspended: "#f08c00",
  Terminating: "#868e96",
  Terminated: "#868e96",
  Failed: "#e03131",
  Undefined: "#9c36b5",
};

export const CLOUD_COLOURS = {
  aws: "#ff9900",
  gcp: "#4285f4",
  azure: "#00a4ef",
  alibaba: "#ff6a00",
  openstack: "#ed1944",
  cloudit: "#7950f2",
};

export const RTT_BANDS = [
  [30, "#2b8a3e", "< 30 ms"],
  [80, "#94d82d", "< 80 ms"],
  [150, "#fcc419", "< 150 ms"],
  [250, "#fd7e14", "< 250 ms"],
  [Infinity, "#c92a2a", "250 ms +"],
];

export function statusColour(label) {
  return STATUS_COLOURS[String(label).replace(/^Partial-/, "")] ?? "#495057";
}

export function cloudColour(provider) {
  return CLOUD_COLOURS[provider] ?? "#343a40";
}

export function rttColour(ms) {
  if (ms === null || ms === undefined) return "#adb5bd";
  return RTT_BANDS.find(([limit]) => ms < limit)[1];
}

export function svg(tag, attrs = {}, ...children) {
  const node = document.createElementNS(SVG_NS, tag);
  for (const [name, value] of Object.entries(attrs)) node.setAttribute(name, String(value));
  for (const child of children) {
    node.append(typeof child === "string" ? document.createTextNode(child) : child);
  }
  return node;
}

function project(lon, lat) {
  return [(lon + 180) * DEG, (TOP_LAT - lat) * DEG];
}

// TopoJSON: quantized, delta-encoded arcs; a ring lists arc indices (~i: arc i reversed).
function decodeArcs(topology) {
  const [sx, sy] = topology.transform?.scale ?? [1, 1];
  const [tx, ty] = topology.transform?.translate ?? [0, 0];
  return topology.arcs.map((arc) => {
    let x = 0;
    let y = 0;
    return arc.map(([dx, dy]) => {
      x += dx;
      y += dy;
      return [x * sx + tx, y * sy + ty];
    });
  });
}

function ringPoints(arcs, indices) {
  const points = [];
  for (const index of indices) {
    const arc = index >= 0 ? arcs[index] : [...arcs[~index]].reverse();
    points.push(...(points.length ? arc.slice(1) : arc));
  }
  return points;
}

// A ring that crosses the antimeridian jumps by ~360 degrees of longitude: unwrapped, it is one
// shape reaching past +-180, drawn again one world-width over so the map's edge clips both
// parts. A jump along a pole (Antarctica's edge from +180 to -180) is no crossing.
function unwrap(points) {
  let shift = 0;
  return points.map(([lon, lat], k) => {
    if (k) {
      const [lastLon, lastLat] = points[k - 1];
      const polar = Math.abs(lat) > 89.9 && Math.abs(lastLat) > 89.9;
      if (!polar && Math.abs(lon - lastLon) > 180) shift += lon < lastLon ? 360 : -360;
    }
    return [lon + shift, lat];
  });
}

function ringPaths(points) {
  const ring = unwrap(points);
  const lons = ring.map(([lon]) => lon);
  const copies = [0];
  if (Math.max(...lons) > 180) copies.push(-360);
  if (Math.min(...lons) < -180) copies.push(360);
  return copies.map((offset) => {
    const steps = ring.map(([lon, lat], k) => {
      const [x, y] = project(lon + offset, lat);
      return `${k ? "L" : "M"}${x.toFixed(1)},${y.toFixed(1)}`;
    });
    return `${steps.join("")}Z`;
  });
}

/** [{name, d}] of the countries of a world-atlas topology. */
export function countryPaths(topology) {
  const arcs = decodeArcs(topology);
  const found = [];
  for (const geometry of topology.objects.countries.geometries) {
    const polygons =
      geometry.type === "Polygon" ? [geometry.arcs] : geometry.type === "MultiPolygon" ? geometry.arcs : [];
    const d = polygons.flatMap((rings) => rings.flatMap((r) => ringPaths(ringPoints(arcs, r)))).join("");
    if (d) found.push({ name: geometry.properties?.name ?? "", d });
  }
  return found;
}

function graticule() {
  const lines = svg("g", { class: "graticule" });
  for (let lon = -180; lon <= 180; lon += 30) {
    const [x] = project(lon, 0);
    lines.append(svg("line", { x1: x, y1: 0, x2: x, y2: HEIGHT }));
  }
  for (let lat = -30; lat <= 60; lat += 30) {
    const [, y] = project(0, lat);
    lines.append(svg("line", { x1: 0, y1: y, x2: WIDTH, y2: y }));
  }
  return lines;
}

// Markers closer than CLUSTER_PX are spread on a circle around their mean, first one on top,
// so each stays visible and its label readable.
const CLUSTER_PX = 16;

function placeMarkers(regions) {
  const clusters = [];
  for (const region of regions) {
    if (region.latitude === null || region.longitude === null) continue;
    const [x, y] = project(region.longitude, region.latitude);
    const near = clusters.find((c) => Math.hypot(c.x - x, c.y - y) < CLUSTER_PX);
    if (near) {
      near.items.push({ region, x, y });
      near.x = near.items.reduce((sum, i) => sum + i.x, 0) / near.items.length;
      near.y = near.items.reduce((sum, i) => sum + i.y, 0) / near.items.length;
    } else {
      clusters.push({ x, y, items: [{ region, x, y }] });
    }
  }
  return clusters.flatMap(({ x, y, items }) =>
    items.map((item, i) => {
      if (items.length === 1) return item;
      const angle = -Math.PI / 2 + (2 * Math.PI * i) / items.length;
      const spread = 12 + 4 * items.length;
      return { ...item, x: x + spread * Math.cos(angle), y: y + spread * Math.sin(angle) };
    }),
  );
}

export class WorldMap {
  constructor(container) {
    this.root = svg("svg", {
      viewBox: `0 0 ${WIDTH} ${HEIGHT}`,
      class: "world-map",
      role: "img",
      "aria-label": "world map of the regions holding VMs",
    });
    this.countries = svg("g", { class: "countries" });
    this.data = svg("g", { class: "map-data" });
    this.root.append(svg("rect", { class: "ocean", width: WIDTH, height: HEIGHT }), graticule(), this.countries, this.data);
    container.replaceChildren(this.root);
  }

  showCountries(topology) {
    const paths = countryPaths(topology);
    this.countries.replaceChildren(
      ...paths.map(({ name, d }) => svg("path", { d, class: "country" }, svg("title", {}, name))),
    );
    this.root.dataset.countries = String(paths.length);
  }

  /** Draw a WorldMap answer of `GET /v1/.../map`. */
  show(worldMap) {
    const placed = placeMarkers(worldMap.regions);
    const at = new Map(placed.map((p) => [p.region.key, p]));
    const links = svg("g", { class: "rtt-links" });
    for (const link of worldMap.links) {
      const a = at.get(link.a);
      const b = at.get(link.b);
      if (!a || !b) continue;
      const rtt = link.rtt_ms === null ? "unknown" : `${link.rtt_ms} ms`;
      links.append(
        svg(
          "line",
          {
            class: `rtt-link rtt-${link.source}`,
            x1: a.x,
            y1: a.y,
            x2: b.x,
            y2: b.y,
            stroke: rttColour(link.rtt_ms),
            "data-a": link.a,
            "data-b": link.b,
            "data-rtt-ms": link.rtt_ms ?? "",
            "data-source": link.source,
          },
          svg("title", {}, `${link.a} - ${link.b}: ${rtt} (${link.source})`),
        ),
      );
    }
    const markers = svg("g", { class: "region-markers" });
    for (const { region, x, y } of placed) {
      const radius = 7 + 3 * Math.sqrt(region.vms);
      const statuses = Object.entries(region.statuses).map(([s, n]) => `${s} ${n}`).join(", ");
      const mcis = Object.entries(region.mcis).map(([m, n]) => `${m}: ${n}`).join(", ");
      markers.append(
        svg(
          "g",
          {
            class: "region-marker",
            transform: `translate(${x.toFixed(1)},${y.toFixed(1)})`,
            "data-region": region.key,
            "data-provider": region.provider,
            "data-vms": region.vms,
            "data-status": region.status,
          },
          svg("title", {}, `${region.key} (${region.display_name})\n${region.vms} VMs: ${statuses}\n${mcis}`),
          svg("circle", {
            r: radius.toFixed(1),
            fill: statusColour(region.status),
            stroke: cloudColour(region.provider),
            "stroke-dasharray": region.status.startsWith("Partial-") ? "4 2" : "none",
          }),
          svg("text", { class: "marker-count", dy: "0.35em" }, String(region.vms)),
          svg("text", { class: "marker-label", y: radius + 11 }, `${region.provider} ${region.region}`),
        ),
      );
    }
    this.data.replaceChildren(links, markers);
    const unplaced = worldMap.regions.filter((r) => !at.has(r.key)).map((r) => r.key);
    this.root.dataset.vms = String(worldMap.vms);
    this.root.dataset.regions = String(worldMap.regions.length);
    this.root.dataset.unplaced = unplaced.join(" ");
    return unplaced;
  }
}
