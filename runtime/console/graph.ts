/**
 * The service graph, drawn from spans: nodes are services, databases (`postgresql`), caches
 * (`redis`) and Kafka topics; edges say who called what, how often, how often it failed and how
 * long the p95 call took.
 *
 * - service → service: a CLIENT span whose child is another service's SERVER span (the CLIENT
 *   span's duration is the call's);
 * - service → topic: a PRODUCER span; topic → service: a CONSUMER span;
 * - service → postgresql / redis: a CLIENT span with `db.system.name`.
 *
 * @example
 * ```ts
 * import { buildGraph } from "./graph.ts";
 * console.log(buildGraph([]).edges.length); // 0
 * ```
 * @module
 */
import type { GraphEdge, GraphNode, ServiceGraph, SpanRecord } from "./model.ts";
import { percentile } from "./percentile.ts";
import { dbSystem, destination } from "./summary.ts";

const CACHES = new Set(["redis", "memcached", "valkey"]);

/** Builds the graph from the spans of each trace. */
export function buildGraph(traces: Iterable<readonly SpanRecord[]>): ServiceGraph {
  const nodes = new Map<string, GraphNode["type"]>();
  const edges = new Map<string, { source: string; target: string; errors: number; ms: number[] }>();
  const node = (id: string, type: GraphNode["type"]) => {
    // A name used both ways (a service named like a topic) stays what it was first seen as.
    if (!nodes.has(id)) nodes.set(id, type);
  };
  const edge = (source: string, target: string, span: SpanRecord, failed: boolean) => {
    const key = `${source}\u0000${target}`;
    let entry = edges.get(key);
    if (!entry) edges.set(key, entry = { source, target, errors: 0, ms: [] });
    entry.ms.push(span.durationMs);
    if (failed) entry.errors++;
  };

  for (const spans of traces) {
    let byId: Map<string, SpanRecord> | undefined;
    for (const span of spans) {
      node(span.service, "service");
      switch (span.kind) {
        case "server": {
          if (span.parentSpanId === undefined) break;
          byId ??= new Map(spans.map((s) => [s.spanId, s]));
          const caller = byId.get(span.parentSpanId);
          if (caller?.kind === "client" && caller.service !== span.service) {
            edge(
              caller.service,
              span.service,
              caller,
              caller.status === "error" || span.status === "error",
            );
          }
          break;
        }
        case "client": {
          const system = dbSystem(span);
          if (system === undefined) break;
          node(system, CACHES.has(system) ? "cache" : "database");
          edge(span.service, system, span, span.status === "error");
          break;
        }
        case "producer":
        case "consumer": {
          const topic = destination(span);
          if (topic === undefined) break;
          node(topic, "topic");
          // A producer sends into the topic, a consumer is fed from it.
          const [source, target] = span.kind === "producer"
            ? [span.service, topic]
            : [topic, span.service];
          edge(source, target, span, span.status === "error");
          break;
        }
      }
    }
  }
  const edgeList: GraphEdge[] = [...edges.values()].map(({ source, target, errors, ms }) => ({
    source,
    target,
    calls: ms.length,
    errors,
    p95Ms: percentile(ms, 0.95),
  }));
  return {
    nodes: [...nodes.entries()].map(([id, type]) => ({ id, type })),
    edges: edgeList,
  };
}
