/**
 * The Trace page: where the time went (the seed's questions answered at the top), the waterfall
 * (time axis, nesting with collapse, kind, status, service colour, Kafka wait between send and
 * process), span details on selection, and the trace's log records in time order.
 * @module
 */
import type { Child } from "hono/jsx";
import type { LogRecordEntry, SpanRecord, TraceDetail } from "../model.ts";
import { formatDuration, niceTicks, serviceColor } from "./_format.ts";
import { Empty } from "./_layout.tsx";
import { AttributeTable, Duration, ServiceChip, Time, traceHref, TraceLink } from "./_parts.tsx";
import { buildWaterfall, type Waterfall, type WaterfallRow } from "./_waterfall.ts";

const KIND_TAG: Record<SpanRecord["kind"], string> = {
  server: "srv",
  client: "cli",
  producer: "prod",
  consumer: "cons",
  internal: "int",
};

/** The whole page body for one trace. */
export function TraceView(props: { trace: TraceDetail; selected?: string }) {
  const { trace } = props;
  const waterfall = buildWaterfall(trace.spans);
  const root = waterfall.rows[0]?.span;
  const selected = props.selected && trace.spans.some((span) => span.spanId === props.selected)
    ? props.selected
    : undefined;
  return (
    <>
      <div class="trace-head">
        <h1>
          {root ? <ServiceChip service={root.service} /> : null}
          <span class="name">{root?.name ?? "trace"}</span>
        </h1>
        <dl class="facts">
          <Fact term="Trace">
            <code class="copy" title="trace id">{trace.traceId}</code>
          </Fact>
          <Fact term="Started">
            <Time ms={waterfall.start} full />
          </Fact>
          <Fact term="Spans">{trace.summary.spanCount}</Fact>
          <Fact term="Services">
            {trace.summary.services.map((service) => <ServiceChip service={service} />)}
          </Fact>
          <Fact term="Errors" class={trace.summary.errors > 0 ? "bad" : undefined}>
            {trace.summary.errors}
          </Fact>
          <Fact term="Logs">
            <a href={`/logs?traceId=${trace.traceId}`}>{trace.logs.length}</a>
          </Fact>
        </dl>
      </div>
      <Summary trace={trace} />
      <WaterfallView waterfall={waterfall} selected={selected} logs={trace.logs} />
      <TraceLogs logs={trace.logs} start={waterfall.start} traceId={trace.traceId} />
    </>
  );
}

/** The seed's answers: total, PostgreSQL, Kafka (send, wait in topic, process), Redis, HTTP. */
export function Summary(props: { trace: TraceDetail }) {
  const { summary } = props.trace;
  const total = summary.durationMs;
  // HTTP hops and Kafka processing contain other work; the slow part is named among the rest.
  const items: Array<{ label: string; ms: number; hint: string; kind: string; leaf: boolean }> = [
    {
      label: "PostgreSQL",
      ms: summary.postgresqlMs,
      hint: "time in PostgreSQL client calls",
      kind: "pg",
      leaf: true,
    },
    {
      label: "Kafka send",
      ms: summary.kafka.sendMs,
      hint: "producer spans: until the broker acknowledged",
      kind: "kafka",
      leaf: true,
    },
    {
      label: "in topic",
      ms: summary.kafka.waitMs,
      hint: "from each send's start to its consumer's start: the message waiting in the topic",
      kind: "wait",
      leaf: true,
    },
    {
      label: "Kafka process",
      ms: summary.kafka.processMs,
      hint: "consumer spans: the Kafka-triggered functions at work",
      kind: "kafka",
      leaf: false,
    },
    {
      label: "Redis",
      ms: summary.redisMs,
      hint: "time in Redis client calls",
      kind: "redis",
      leaf: true,
    },
    {
      label: "HTTP hops",
      ms: summary.httpMs,
      hint: "HTTP client spans between functions, the callee's work included",
      kind: "http",
      leaf: false,
    },
  ];
  const biggest = Math.max(...items.filter((item) => item.leaf).map((item) => item.ms));
  return (
    <section class="summary" aria-label="where the time went">
      <div class="sum total">
        <span class="k">Total</span>
        <span class="v">{formatDuration(total)}</span>
        <span class="share" style="--w:100%"></span>
      </div>
      {items.map((item) => (
        <div
          class={`sum sum-${item.kind}${item.ms === 0 ? " none" : ""}${
            item.leaf && item.ms > 0 && item.ms === biggest ? " top" : ""
          }`}
          title={`${item.hint}${
            total > 0 && item.ms > 0
              ? ` — ${Math.round((item.ms / total) * 100)}% of the trace`
              : ""
          }`}
        >
          <span class="k">{item.label}</span>
          <span class="v">{item.ms === 0 ? "—" : formatDuration(item.ms)}</span>
          <span
            class="share"
            style={`--w:${total > 0 ? Math.min(100, (item.ms / total) * 100).toFixed(1) : 0}%`}
          >
          </span>
        </div>
      ))}
    </section>
  );
}

const pct = (value: number) => `${Math.max(0, Math.min(100, value)).toFixed(3)}%`;

/** The waterfall with its time axis and one (hidden) details panel per span. */
export function WaterfallView(
  props: { waterfall: Waterfall; selected?: string; logs: readonly LogRecordEntry[] },
) {
  const { rows, start, end } = props.waterfall;
  const total = Math.max(end - start, 0.001);
  const ticks = niceTicks(total);
  const tickLines = ticks.map((tick) => pct((tick / total) * 100));
  return (
    <section class="wf" aria-label="waterfall">
      <div class="wf-head" aria-hidden="true">
        <div class="wf-name">
          <span>Span</span>
          <span class="wf-tools">
            <button type="button" data-wf="expand" title="expand all">expand all</button>
            <button type="button" data-wf="collapse" title="collapse all">collapse all</button>
          </span>
        </div>
        <div class="wf-axis">
          {ticks.map((tick, index) => (
            <span
              class={index === 0 ? "tick first" : "tick"}
              style={`left:${tickLines[index]}`}
            >
              {tick === 0 ? "0" : formatDuration(tick)}
            </span>
          ))}
        </div>
      </div>
      <div class="wf-body" role="tree" aria-label="spans">
        <div class="wf-grid" aria-hidden="true">
          {tickLines.map((left) => <span style={`left:${left}`}></span>)}
        </div>
        {rows.map((row) => (
          <SpanRow
            row={row}
            start={start}
            total={total}
            selected={row.span.spanId === props.selected}
            slowest={row.span.spanId === props.waterfall.slowestSelf}
            logs={props.logs.filter((log) => log.spanId === row.span.spanId)}
          />
        ))}
      </div>
    </section>
  );
}

function SpanRow(
  props: {
    row: WaterfallRow;
    start: number;
    total: number;
    selected: boolean;
    slowest: boolean;
    logs: readonly LogRecordEntry[];
  },
) {
  const { row, start, total } = props;
  const { span } = row;
  const left = ((span.start - start) / total) * 100;
  const width = Math.max((span.durationMs / total) * 100, 0.15);
  // The duration goes right of the bar, else left of it, else inside it.
  // Left of the bar means left of its wait in the topic too, when it has one.
  const leftmost = row.wait && row.wait.ms > 0
    ? Math.min(left, ((row.wait.from - start) / total) * 100)
    : left;
  const waitLabel = row.wait !== undefined && row.wait.ms > 0;
  const place = left + width < (waitLabel ? 60 : 78)
    ? "right"
    : leftmost > 14
    ? "before"
    : "inside";
  const error = span.status === "error";
  const classes = [
    "wf-row",
    error ? "err" : "",
    props.selected ? "sel" : "",
    props.slowest ? "slow" : "",
  ]
    .filter(Boolean).join(" ");
  return (
    <>
      <div
        class={classes}
        id={`span-${span.spanId}`}
        role="treeitem"
        aria-level={row.depth + 1}
        aria-expanded={row.children > 0 ? "true" : undefined}
        aria-selected={props.selected ? "true" : "false"}
        aria-controls={`detail-${span.spanId}`}
        tabindex={0}
        data-span={span.spanId}
        data-ancestors={row.ancestors.join(" ")}
        style={`--svc:${serviceColor(span.service)}`}
      >
        <div class="wf-name" style={`--depth:${row.depth}`}>
          {row.children > 0
            ? (
              <button
                type="button"
                class="twist"
                data-toggle={span.spanId}
                aria-label={`collapse ${span.name}`}
                title={`${row.children} child span${row.children === 1 ? "" : "s"}`}
              >
              </button>
            )
            : <span class="twist leaf" aria-hidden="true"></span>}
          <span class={`kind k-${span.kind}`} title={span.kind}>{KIND_TAG[span.kind]}</span>
          <span class="svc-name">{span.service}</span>
          <span class="name" title={span.name}>{span.name}</span>
          {row.peer ? <span class="peer">→ {row.peer}</span> : null}
          {error ? <span class="errmark" title={span.statusMessage ?? "error"}>!</span> : null}
          {row.orphan
            ? <span class="orphan" title="its parent span has not arrived">parent missing</span>
            : null}
        </div>
        <div class="wf-track">
          {row.wait && row.wait.ms > 0
            ? (
              <span
                class="wait"
                style={`left:${pct(((row.wait.from - start) / total) * 100)};width:${
                  pct((row.wait.ms / total) * 100)
                }`}
                title={`waited ${formatDuration(row.wait.ms)} in ${row.wait.topic ?? "the topic"}`}
              >
              </span>
            )
            : null}
          <span
            class="span-bar"
            style={`left:${pct(left)};width:${pct(width)}`}
          >
          </span>
          {span.events.map((event) => (
            <span
              class={event.name === "exception" ? "mark exc" : "mark"}
              style={`left:${pct(((event.time - start) / total) * 100)}`}
              title={event.name}
            >
            </span>
          ))}
          <span
            class={place === "right" ? "lbl" : `lbl ${place}`}
            style={place === "right"
              ? `left:calc(${pct(left + width)} + 4px)`
              : place === "before"
              ? `right:calc(${pct(100 - leftmost)} + 4px)`
              : `right:calc(${pct(100 - left - width)} + 5px)`}
          >
            {formatDuration(span.durationMs)}
            {row.wait && row.wait.ms > 0
              ? <span class="wait-lbl">{` · ${formatDuration(row.wait.ms)} in topic`}</span>
              : null}
          </span>
        </div>
      </div>
      <SpanDetail
        row={row}
        start={start}
        open={props.selected}
        logs={props.logs}
      />
    </>
  );
}

/** A span's details: facts, attributes, events, links (each to its trace), resource, scope. */
export function SpanDetail(
  props: { row: WaterfallRow; start: number; open: boolean; logs: readonly LogRecordEntry[] },
) {
  const { span } = props.row;
  return (
    <div
      class="wf-detail"
      id={`detail-${span.spanId}`}
      role="region"
      aria-label={`details of ${span.name}`}
      hidden={!props.open}
      data-detail={span.spanId}
    >
      <div class="detail-head">
        <ServiceChip service={span.service} />
        <strong>{span.name}</strong>
        <span class="kind-full">{span.kind}</span>
        <span class={`status s-${span.status}`}>
          {span.status}
          {span.statusMessage ? `: ${span.statusMessage}` : ""}
        </span>
        <a class="permalink small" href={traceHref(span.traceId, span.spanId)}>link to this span</a>
      </div>
      <dl class="facts small">
        <Fact term="Span">
          <code>{span.spanId}</code>
        </Fact>
        <Fact term="Parent">
          {span.parentSpanId
            ? (
              <a href={`#span-${span.parentSpanId}`} data-select={span.parentSpanId}>
                <code>{span.parentSpanId}</code>
              </a>
            )
            : "root"}
        </Fact>
        <Fact term="Start">
          <Time ms={span.start} />{" "}
          <span class="muted">+{formatDuration(span.start - props.start)}</span>
        </Fact>
        <Fact term="Duration">
          <Duration ms={span.durationMs} />
        </Fact>
        <Fact term="Self">
          <Duration ms={props.row.selfMs} />
        </Fact>
        {props.row.wait
          ? (
            <Fact term="In topic">
              <Duration ms={props.row.wait.ms} />
            </Fact>
          )
          : null}
        {span.scope
          ? (
            <Fact term="Scope">
              {span.scope.name}
              {span.scope.version ? ` ${span.scope.version}` : ""}
            </Fact>
          )
          : null}
      </dl>
      <div class="detail-cols">
        <div>
          <h3>Attributes</h3>
          <AttributeTable attributes={span.attributes} />
          <TitledList
            title="Events"
            class="events"
            items={span.events}
            item={(event) => (
              <li>
                <span class="muted">+{formatDuration(event.time - span.start)}</span>{" "}
                <strong>{event.name}</strong>
                <AttributeTable attributes={event.attributes} />
              </li>
            )}
          />
          <TitledList
            title="Links"
            class="links"
            items={span.links}
            item={(link) => (
              <li>
                <TraceLink
                  traceId={link.traceId}
                  spanId={link.spanId}
                  label={`${link.traceId.slice(0, 8)} / ${link.spanId.slice(0, 8)}`}
                />
                <AttributeTable attributes={link.attributes} />
              </li>
            )}
          />
          <TitledList
            title="Logs"
            class="span-logs"
            items={props.logs}
            item={(log) => (
              <li class={`sev-${log.severity}`}>
                <Time ms={log.time} /> <span class="sev">{log.severity}</span> {log.body}
              </li>
            )}
          />
        </div>
        <div>
          <h3>Resource</h3>
          <AttributeTable attributes={span.resource} />
        </div>
      </div>
    </div>
  );
}

/** The trace's log records in time order, each linking to its span. */
export function TraceLogs(
  props: { logs: readonly LogRecordEntry[]; start: number; traceId: string },
) {
  return (
    <section class="trace-logs" aria-label="log records">
      <h2>
        Logs <span class="muted">{props.logs.length}</span>
      </h2>
      {props.logs.length === 0
        ? (
          <Empty title="No log records in this trace.">
            Records written inside a span carry its trace id and show up here.
          </Empty>
        )
        : <LogTable logs={props.logs} start={props.start} inTrace />}
    </section>
  );
}

/** Log records as a table; inside a trace page, offsets from its start and links to its spans. */
export function LogTable(
  props: { logs: readonly LogRecordEntry[]; start?: number; inTrace?: boolean },
) {
  return (
    <table class="list logs">
      <thead>
        <tr>
          <th scope="col" class="c-time">Time</th>
          <th scope="col" class="c-sev">Level</th>
          <th scope="col" class="c-svc">Service</th>
          <th scope="col">Message</th>
          <th scope="col" class="c-trace">{props.inTrace ? "Span" : "Trace"}</th>
        </tr>
      </thead>
      <tbody>
        {props.logs.map((log) => (
          <tr class={`sev-${log.severity}`}>
            <td class="c-time">
              <Time ms={log.time} />
              {props.start !== undefined
                ? <span class="muted small">+{formatDuration(log.time - props.start)}</span>
                : null}
            </td>
            <td class="c-sev">
              <span class="sev">{log.severity}</span>
            </td>
            <td class="c-svc">
              <ServiceChip service={log.service} />
            </td>
            <td class="c-msg">
              <span class="body">{log.body}</span>
              <Fields attributes={log.attributes} />
            </td>
            <td class="c-trace">
              {log.traceId
                ? (
                  props.inTrace && log.spanId
                    ? (
                      <a
                        class="id"
                        href={`#span-${log.spanId}`}
                        data-select={log.spanId}
                        title={`span ${log.spanId}`}
                      >
                        {log.spanId.slice(0, 8)}
                      </a>
                    )
                    : <TraceLink traceId={log.traceId} spanId={log.spanId} />
                )
                : <span class="muted">—</span>}
            </td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}

/** A record's fields, compact: `key=value` pairs; message ids link to their logs. */
function Fields(props: { attributes: LogRecordEntry["attributes"] }) {
  const entries = Object.entries(props.attributes);
  if (entries.length === 0) return null;
  return (
    <span class="fields">
      {entries.map(([key, value]) => {
        const text = Array.isArray(value) ? `[${value.join(", ")}]` : String(value);
        return (
          <span class="field">
            <span class="fk">{key}</span>=
            {key === "message_id"
              ? <a class="fv" href={`/logs?q=${encodeURIComponent(text)}`}>{text}</a>
              : <span class="fv">{text}</span>}
          </span>
        );
      })}
    </span>
  );
}

/** The page for an id the console does not hold. */
export function TraceMissing(props: { traceId: string }) {
  return (
    <Empty title={`No trace ${props.traceId} in the console.`}>
      It may not have arrived yet (this page follows it live), or it was dropped from the buffer.
      {" "}
      <a href="/">All traces</a>
    </Empty>
  );
}

/** One term of a facts list. */
function Fact(props: { term: string; class?: string; children?: Child }) {
  return (
    <div>
      <dt>{props.term}</dt>
      <dd class={props.class}>{props.children}</dd>
    </div>
  );
}

/** A titled list of a span's events, links or logs; nothing when there are none. */
function TitledList<T>(
  props: { title: string; class: string; items: readonly T[]; item: (item: T) => Child },
) {
  if (props.items.length === 0) return null;
  return (
    <>
      <h3>{props.title}</h3>
      <ul class={props.class}>{props.items.map(props.item)}</ul>
    </>
  );
}
