/**
 * The Service graph page: an SVG drawn on the server from the graph the console derives from its
 * spans — services, PostgreSQL, Redis and Kafka topics as distinct shapes, edges labelled with
 * calls, errors and p95 latency, the flow reading left to right.
 * @module
 */
import type { Child } from "hono/jsx";
import type { ServiceGraph } from "../model.ts";
import { formatCount, formatDuration, serviceColor } from "./_format.ts";
import {
  type GraphLayout,
  layoutGraph,
  type PlacedNode,
  type RoutedEdge,
} from "./_graph_layout.ts";
import { Empty } from "./_layout.tsx";

const HALF = { service: 48, database: 46, cache: 44, topic: 52 } as const;
const HALF_HEIGHT = 20;

/** The graph, or why there is none yet. */
export function GraphView(props: { graph: ServiceGraph }) {
  if (props.graph.nodes.length === 0) {
    return (
      <Empty title="No calls seen yet.">
        The graph is drawn from the spans in the console: who calls whom, what each service sends to
        Kafka and what it stores. The first traces draw it.
      </Empty>
    );
  }
  const layout = layoutGraph(props.graph);
  const calls = props.graph.edges.reduce((sum, edge) => sum + edge.calls, 0);
  const errors = props.graph.edges.reduce((sum, edge) => sum + edge.errors, 0);
  return (
    <>
      <p class="graph-note muted">
        {props.graph.nodes.length} nodes, {props.graph.edges.length} edges, {formatCount(calls)}
        {" "}
        calls{errors > 0 ? <span class="bad">, {formatCount(errors)} failed</span> : null}{" "}
        over the spans in the buffer. Edge labels: calls, errors, p95 latency.
      </p>
      <div class="graph-wrap">
        <GraphSvg layout={layout} />
      </div>
      <Legend />
      <EdgeTable graph={props.graph} layout={layout} />
    </>
  );
}

/** The edges as a table: the same figures, sortable by eye, every end a link. */
function EdgeTable(props: { graph: ServiceGraph; layout: GraphLayout }) {
  const types = new Map(props.graph.nodes.map((node) => [node.id, node.type]));
  const href = (id: string) => nodeHref({ id, type: types.get(id) ?? "service" });
  // In the order the flow reads: by where the edge starts, then where it ends.
  const place = new Map(props.layout.nodes.map((node) => [node.id, node.x * 10_000 + node.y]));
  const edges = props.graph.edges.toSorted((a, b) =>
    (place.get(a.source) ?? 0) - (place.get(b.source) ?? 0) ||
    (place.get(a.target) ?? 0) - (place.get(b.target) ?? 0)
  );
  return (
    <table class="list edges-table">
      <caption class="sr-only">Calls between nodes</caption>
      <thead>
        <tr>
          <th scope="col">From</th>
          <th scope="col">To</th>
          <th scope="col" class="c-num">Calls</th>
          <th scope="col" class="c-num">Errors</th>
          <th scope="col" class="c-num">p95</th>
        </tr>
      </thead>
      <tbody>
        {edges.map((edge) => (
          <tr data-edge={`${edge.source}->${edge.target}`}>
            <td>
              <a href={href(edge.source)}>{edge.source}</a>
            </td>
            <td>
              <a href={href(edge.target)}>{edge.target}</a>
            </td>
            <td class="c-num">{formatCount(edge.calls)}</td>
            <td class={edge.errors > 0 ? "c-num bad" : "c-num"}>{formatCount(edge.errors)}</td>
            <td class="c-num">{formatDuration(edge.p95Ms)}</td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}

function Legend() {
  return (
    <ul class="legend" aria-label="legend">
      <LegendItem label="service" width={22} height={14}>
        <rect x="1" y="1" width="20" height="12" rx="3" class="lg-service" />
      </LegendItem>
      <LegendItem label="database" width={22} height={16}>
        <path d={cylinderPath(11, 8, 9, 7)} class="lg-db" />
      </LegendItem>
      <LegendItem label="cache" width={22} height={14}>
        <rect x="1" y="1" width="20" height="12" rx="6" class="lg-cache" />
      </LegendItem>
      <LegendItem label="Kafka topic" width={22} height={14}>
        <path d={hexagonPath(11, 7, 10, 6)} class="lg-topic" />
      </LegendItem>
      <LegendItem label="edge with errors" width={26} height={10}>
        <path d="M1 5h24" class="lg-err" />
      </LegendItem>
    </ul>
  );
}

function LegendItem(props: { label: string; width: number; height: number; children: Child }) {
  return (
    <li>
      <svg width={props.width} height={props.height} aria-hidden="true">{props.children}</svg>
      {props.label}
    </li>
  );
}

/** The SVG itself. */
export function GraphSvg(props: { layout: GraphLayout }) {
  const { layout } = props;
  const byId = new Map(layout.nodes.map((node) => [node.id, node]));
  return (
    <svg
      class="graph"
      viewBox={`0 0 ${layout.width} ${layout.height}`}
      width={layout.width}
      height={layout.height}
      role="img"
      aria-label={`service graph: ${
        layout.edges.map((edge) => `${edge.source} to ${edge.target}`).join(", ")
      }`}
    >
      <defs>
        {[["arrow", "arrowhead"], ["arrow-err", "arrowhead err"]].map(([id, head]) => (
          <marker
            id={id}
            viewBox="0 0 10 10"
            refX="9"
            refY="5"
            markerWidth="7"
            markerHeight="7"
            orient="auto-start-reverse"
          >
            <path d="M0 0 10 5 0 10z" class={head} />
          </marker>
        ))}
      </defs>
      <g class="edges">
        {layout.edges.map((edge) => (
          <Edge edge={edge} source={byId.get(edge.source)!} target={byId.get(edge.target)!} />
        ))}
      </g>
      <g class="nodes">{layout.nodes.map((node) => <Node node={node} />)}</g>
    </svg>
  );
}

function edgePath(edge: RoutedEdge, source: PlacedNode, target: PlacedNode): string {
  if (edge.back) {
    const from = { x: source.x, y: source.y + HALF_HEIGHT };
    const to = { x: target.x, y: target.y + HALF_HEIGHT + 2 };
    const dip = 56;
    return `M${from.x} ${from.y} C${from.x} ${from.y + dip} ${to.x} ${to.y + dip} ${to.x} ${to.y}`;
  }
  const points = edge.points.map((point) => ({ ...point }));
  points[0] = { x: source.x + HALF[source.type], y: source.y };
  points[points.length - 1] = { x: target.x - HALF[target.type] - 2, y: target.y };
  let d = `M${points[0].x} ${points[0].y}`;
  for (let i = 1; i < points.length; i++) {
    const a = points[i - 1];
    const b = points[i];
    const dx = (b.x - a.x) / 2;
    d += ` C${a.x + dx} ${a.y} ${b.x - dx} ${b.y} ${b.x} ${b.y}`;
  }
  return d;
}

/**
 * Where an edge's label goes: clear of its own curve and of the nodes. A curve leaves and
 * arrives horizontally, so above a level edge, above the upper end of a rising one, below the
 * lower end of a falling one, and above the middle of a long one.
 */
function labelAt(edge: RoutedEdge, source: PlacedNode, target: PlacedNode) {
  if (edge.back) {
    return { x: (source.x + target.x) / 2, y: Math.max(source.y, target.y) + 62, above: false };
  }
  const points = edge.points;
  if (points.length > 2) {
    const middle = points[Math.floor((points.length - 1) / 2)];
    return { x: middle.x, y: middle.y - 14, above: true };
  }
  const x = (source.x + HALF[source.type] + target.x - HALF[target.type]) / 2;
  if (Math.abs(source.y - target.y) < 1) return { x, y: source.y - 30, above: true };
  return target.y < source.y
    ? { x, y: target.y - 30, above: true }
    : { x, y: target.y + 36, above: false };
}

function Edge(props: { edge: RoutedEdge; source: PlacedNode; target: PlacedNode }) {
  const { edge, source, target } = props;
  const width = Math.min(4, 1.2 + Math.log10(edge.calls + 1) * 0.8);
  const failing = edge.errors > 0;
  const at = labelAt(edge, source, target);
  // A third line (errors) grows the label away from the edge.
  const label = { x: at.x, y: at.y - (failing && at.above ? 13 : 0) };
  const title = `${edge.source} → ${edge.target}: ${edge.calls} calls, ${edge.errors} errors, p95 ${
    formatDuration(edge.p95Ms)
  }`;
  return (
    <g class={failing ? "edge err" : "edge"} data-edge={`${edge.source}->${edge.target}`}>
      <title>{title}</title>
      <path
        d={edgePath(edge, source, target)}
        stroke-width={width.toFixed(2)}
        marker-end={failing ? "url(#arrow-err)" : "url(#arrow)"}
      />
      <text x={label.x} y={label.y - (failing ? 11 : 5)} class="edge-label">
        {formatCount(edge.calls)} calls
      </text>
      {failing
        ? (
          <text x={label.x} y={label.y + 2} class="edge-label err-text">
            {formatCount(edge.errors)} failed
          </text>
        )
        : null}
      <text x={label.x} y={label.y + (failing ? 15 : 9)} class="edge-label sub">
        p95 {formatDuration(edge.p95Ms)}
      </text>
    </g>
  );
}

function cylinderPath(cx: number, cy: number, hw: number, hh: number): string {
  const ry = Math.max(2, hh * 0.3);
  const top = cy - hh + ry;
  const bottom = cy + hh - ry;
  return `M${cx - hw} ${top} A${hw} ${ry} 0 0 1 ${cx + hw} ${top} V${bottom} A${hw} ${ry} 0 0 1 ${
    cx - hw
  } ${bottom} Z M${cx - hw} ${top} A${hw} ${ry} 0 0 0 ${cx + hw} ${top}`;
}

function hexagonPath(cx: number, cy: number, hw: number, hh: number): string {
  const inset = hh * 0.7;
  return `M${cx - hw} ${cy} L${cx - hw + inset} ${cy - hh} H${cx + hw - inset} L${cx + hw} ${cy} L${
    cx + hw - inset
  } ${cy + hh} H${cx - hw + inset} Z`;
}

const SUBTITLE = {
  service: "service",
  database: "database",
  cache: "cache",
  topic: "Kafka topic",
} as const;

function nodeHref(node: { id: string; type: PlacedNode["type"] }): string {
  if (node.type === "service") return `/?service=${encodeURIComponent(node.id)}`;
  if (node.type === "topic") {
    return `/?attr=${encodeURIComponent(`messaging.destination.name:${node.id}`)}`;
  }
  return `/?attr=${encodeURIComponent(`db.system.name:${node.id}`)}`;
}

function Node(props: { node: PlacedNode }) {
  const { node } = props;
  const hw = HALF[node.type];
  const hh = HALF_HEIGHT;
  const style = node.type === "service" ? `--svc:${serviceColor(node.id)}` : undefined;
  const shape = node.type === "service"
    ? <rect x={node.x - hw} y={node.y - hh} width={hw * 2} height={hh * 2} rx="6" />
    : node.type === "cache"
    ? <rect x={node.x - hw} y={node.y - hh} width={hw * 2} height={hh * 2} rx={hh} />
    : node.type === "database"
    ? <path d={cylinderPath(node.x, node.y, hw, hh + 3)} />
    : <path d={hexagonPath(node.x, node.y, hw, hh)} />;
  return (
    <a href={nodeHref(node)} class={`node n-${node.type}`} style={style} data-node={node.id}>
      <title>{`${node.id} (${SUBTITLE[node.type]}): its traces`}</title>
      {shape}
      <text x={node.x} y={node.y - 1} class="node-label">{node.id}</text>
      <text x={node.x} y={node.y + 12} class="node-sub">{SUBTITLE[node.type]}</text>
    </a>
  );
}
