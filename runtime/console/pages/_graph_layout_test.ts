import assert from "node:assert/strict";
import { FixtureReader } from "./_fixture.ts";
import { layoutGraph } from "./_graph_layout.ts";

Deno.test("the flow reads left to right: every edge ends right of where it starts", () => {
  const graph = new FixtureReader({ ticks: 1 }).graph();
  const layout = layoutGraph(graph);
  const at = new Map(layout.nodes.map((node) => [node.id, node]));
  for (const edge of layout.edges) {
    assert.equal(edge.back, false, `${edge.source} → ${edge.target} is no cycle`);
    assert.ok(at.get(edge.target)!.x > at.get(edge.source)!.x, `${edge.source} → ${edge.target}`);
  }
  const layers = Object.fromEntries(layout.nodes.map((node) => [node.id, node.layer]));
  assert.deepEqual(layers, {
    executor: 0,
    app1: 1,
    Purchase: 2,
    app2: 3,
    app3: 4,
    postgresql: 5,
    Purchase2: 5,
    app4: 6,
    redis: 7,
  });
});

Deno.test("an edge that skips columns is routed beside the nodes it skips, not through them", () => {
  const layout = layoutGraph(new FixtureReader({ ticks: 1 }).graph());
  const skip = layout.edges.find((edge) => edge.source === "app1" && edge.target === "app3")!;
  assert.equal(skip.points.length, 4, "through a waypoint in each of the two skipped columns");
  for (const point of skip.points.slice(1, -1)) {
    for (const node of layout.nodes) {
      if (node.x === point.x) assert.notEqual(node.y, point.y, `clear of ${node.id}`);
    }
  }
  for (const node of layout.nodes) {
    assert.ok(node.x > 0 && node.x < layout.width && node.y > 0 && node.y < layout.height);
  }
});

Deno.test("no two nodes share a place, and the same graph lays out the same", () => {
  const graph = new FixtureReader({ ticks: 1 }).graph();
  const first = layoutGraph(graph);
  const places = first.nodes.map((node) => `${node.x},${node.y}`);
  assert.equal(new Set(places).size, places.length);
  assert.deepEqual(layoutGraph(graph), first);
});

Deno.test("a cycle is kept as a back edge; unknown nodes named by edges are added", () => {
  const layout = layoutGraph({
    nodes: [{ id: "a", type: "service" }, { id: "b", type: "service" }],
    edges: [
      { source: "a", target: "b", calls: 3, errors: 0, p95Ms: 1 },
      { source: "b", target: "a", calls: 1, errors: 0, p95Ms: 1 },
      { source: "b", target: "c", calls: 1, errors: 1, p95Ms: 2 },
      { source: "c", target: "c", calls: 1, errors: 0, p95Ms: 2 },
    ],
  });
  assert.deepEqual(layout.nodes.map((node) => [node.id, node.layer]), [["a", 0], ["b", 1], [
    "c",
    2,
  ]]);
  assert.deepEqual(
    layout.edges.map((edge) => `${edge.source}>${edge.target}${edge.back ? " back" : ""}`),
    ["a>b", "b>a back", "b>c"],
  );
});

Deno.test("an empty graph lays out to nothing", () => {
  const layout = layoutGraph({ nodes: [], edges: [] });
  assert.deepEqual(layout.nodes, []);
  assert.deepEqual(layout.edges, []);
});
