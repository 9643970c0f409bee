/**
 * Lays the service graph out so the flow reads left to right: each node in the column of its
 * longest path from a source, edges that skip columns routed through waypoints of their own (so
 * they pass beside the nodes they skip, not through them), and columns ordered to keep edges from
 * crossing (a few barycentre sweeps, as layered graph drawing does).
 * @module
 */
import type { GraphEdge, GraphNode, ServiceGraph } from "../model.ts";

/** A placed node: its centre. */
export interface PlacedNode extends GraphNode {
  readonly x: number;
  readonly y: number;
  readonly layer: number;
}

/** A routed edge: the centres it passes, source first, target last. */
export interface RoutedEdge extends GraphEdge {
  readonly points: readonly { readonly x: number; readonly y: number }[];
  /** The edge goes back against the flow (a cycle); drawn as such. */
  readonly back: boolean;
}

/** The laid-out graph. */
export interface GraphLayout {
  readonly nodes: readonly PlacedNode[];
  readonly edges: readonly RoutedEdge[];
  readonly width: number;
  readonly height: number;
}

/** Spacing of {@linkcode layoutGraph}. */
export interface LayoutSpacing {
  readonly column: number;
  readonly row: number;
  /** Left and right of the outer nodes' centres. */
  readonly margin: number;
  /** Above and below the outer rows' centres: room for the edge labels there. */
  readonly marginY: number;
}

const DEFAULT_SPACING: LayoutSpacing = { column: 160, row: 96, margin: 58, marginY: 74 };

/** Lays `graph` out; node order in the input breaks ties, so the same graph lays out the same. */
export function layoutGraph(graph: ServiceGraph, spacing = DEFAULT_SPACING): GraphLayout {
  const ids = graph.nodes.map((node) => node.id);
  for (const edge of graph.edges) {
    for (const id of [edge.source, edge.target]) if (!ids.includes(id)) ids.push(id);
  }
  const nodeOf = new Map<string, GraphNode>(graph.nodes.map((node) => [node.id, node]));
  const edges = graph.edges.filter((edge) => edge.source !== edge.target);
  const back = findBackEdges(ids, edges);
  const forward = edges.filter((edge) => !back.has(edge));

  // Longest path from a source: every forward edge goes at least one column to the right.
  const layer = new Map(ids.map((id) => [id, 0]));
  for (let pass = 0; pass < ids.length; pass++) {
    let changed = false;
    for (const edge of forward) {
      const next = layer.get(edge.source)! + 1;
      if (next > layer.get(edge.target)!) {
        layer.set(edge.target, next);
        changed = true;
      }
    }
    if (!changed) break;
  }

  // Waypoints for edges that skip columns, so their route can be ordered like a node.
  type Item = { id: string; dummy: boolean };
  const columns: Item[][] = [];
  const put = (column: number, item: Item) => (columns[column] ??= []).push(item);
  for (const id of ids) put(layer.get(id)!, { id, dummy: false });
  const routes = new Map<GraphEdge, string[]>();
  const links: Array<[string, string]> = [];
  forward.forEach((edge, index) => {
    const from = layer.get(edge.source)!;
    const to = layer.get(edge.target)!;
    const path = [edge.source];
    for (let column = from + 1; column < to; column++) {
      const id = `\u0000${index}:${column}`;
      put(column, { id, dummy: true });
      path.push(id);
    }
    path.push(edge.target);
    for (let i = 1; i < path.length; i++) links.push([path[i - 1], path[i]]);
    routes.set(edge, path);
  });
  for (let column = 0; column < columns.length; column++) columns[column] ??= [];

  // Barycentre sweeps: order each column by the mean position of its neighbours.
  const position = new Map<string, number>();
  const renumber = () =>
    columns.forEach((column) => column.forEach((item, index) => position.set(item.id, index)));
  renumber();
  const neighbours = (id: string, upstream: boolean) =>
    links.filter(([a, b]) => (upstream ? b === id : a === id)).map(([a, b]) => upstream ? a : b);
  for (let sweep = 0; sweep < 4; sweep++) {
    const upstream = sweep % 2 === 0;
    const order = upstream
      ? columns.map((_, i) => i)
      : columns.map((_, i) => columns.length - 1 - i);
    for (const c of order) {
      const keyed = columns[c].map((item, index) => {
        const near = neighbours(item.id, upstream).map((id) => position.get(id)!);
        const centre = near.length > 0 ? near.reduce((a, b) => a + b, 0) / near.length : index;
        return { item, key: centre, index };
      });
      keyed.sort((a, b) =>
        a.key - b.key || Number(b.item.dummy) - Number(a.item.dummy) || a.index - b.index
      );
      columns[c] = keyed.map((entry) => entry.item);
      renumber();
    }
  }

  const tallest = Math.max(1, ...columns.map((column) => column.length));
  const height = spacing.marginY * 2 + (tallest - 1) * spacing.row;
  const width = spacing.margin * 2 + Math.max(0, columns.length - 1) * spacing.column;
  const centre = new Map<string, { x: number; y: number }>();
  columns.forEach((column, c) => {
    const top = height / 2 - ((column.length - 1) * spacing.row) / 2;
    column.forEach((item, index) =>
      centre.set(item.id, { x: spacing.margin + c * spacing.column, y: top + index * spacing.row })
    );
  });

  return {
    width,
    height,
    nodes: ids.map((id) => ({
      id,
      type: nodeOf.get(id)?.type ?? "service",
      layer: layer.get(id)!,
      ...centre.get(id)!,
    })),
    edges: edges.map((edge) => ({
      ...edge,
      back: back.has(edge),
      points: (routes.get(edge) ?? [edge.source, edge.target]).map((id) => centre.get(id)!),
    })),
  };
}

/** Edges that close a cycle, found by depth-first search from the nodes in input order. */
function findBackEdges(ids: readonly string[], edges: readonly GraphEdge[]): Set<GraphEdge> {
  const back = new Set<GraphEdge>();
  const state = new Map<string, "open" | "done">();
  const visit = (id: string) => {
    state.set(id, "open");
    for (const edge of edges) {
      if (edge.source !== id) continue;
      const next = state.get(edge.target);
      if (next === "open") back.add(edge);
      else if (next === undefined) visit(edge.target);
    }
    state.set(id, "done");
  };
  const targets = new Set(edges.map((edge) => edge.target));
  for (const id of [...ids.filter((id) => !targets.has(id)), ...ids]) {
    if (!state.has(id)) visit(id);
  }
  return back;
}
