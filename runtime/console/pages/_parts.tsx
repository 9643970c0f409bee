/**
 * Small pieces every page uses: times, durations, service chips, links to traces and spans.
 * @module
 */
import {
  attributeText,
  formatClock,
  formatDateTime,
  formatDuration,
  serviceColor,
  shortId,
} from "./_format.ts";
import type { Attributes } from "../model.ts";

/** A local time with milliseconds; the browser rewrites it in its own time zone. */
export function Time(props: { ms: number; full?: boolean }) {
  return (
    <time
      datetime={new Date(props.ms).toISOString()}
      data-ms={String(props.ms)}
      data-format={props.full ? "full" : "clock"}
      title={formatDateTime(props.ms)}
    >
      {props.full ? formatDateTime(props.ms) : formatClock(props.ms)}
    </time>
  );
}

/** A humanised duration. */
export function Duration(props: { ms: number }) {
  return <span class="dur">{formatDuration(props.ms)}</span>;
}

/** A service name with its colour; a link to its traces unless `plain`. */
export function ServiceChip(props: { service: string; plain?: boolean }) {
  const style = `--svc:${serviceColor(props.service)}`;
  return props.plain ? <span class="svc" style={style}>{props.service}</span> : (
    <a
      class="svc"
      style={style}
      href={`/?service=${encodeURIComponent(props.service)}`}
      title={`traces touching ${props.service}`}
    >
      {props.service}
    </a>
  );
}

/** The URL of a trace, or of one of its spans. */
export function traceHref(traceId: string, spanId?: string): string {
  const base = `/traces/${encodeURIComponent(traceId)}`;
  return spanId ? `${base}?span=${encodeURIComponent(spanId)}#span-${spanId}` : base;
}

/** A short trace id linking to its trace (and span). */
export function TraceLink(props: { traceId: string; spanId?: string; label?: string }) {
  return (
    <a
      class="id"
      href={traceHref(props.traceId, props.spanId)}
      title={props.spanId
        ? `trace ${props.traceId}, span ${props.spanId}`
        : `trace ${props.traceId}`}
    >
      {props.label ?? shortId(props.traceId)}
    </a>
  );
}

/** Attribute keys whose values are message ids: they link to the message's traces and logs. */
const MESSAGE_ID_KEYS = new Set([
  "message_id",
  "messaging.kafka.message.key",
  "messaging.message.id",
]);

/** A key/value table of attributes; ids link to what they name. */
export function AttributeTable(props: { attributes: Attributes; caption?: string }) {
  const entries = Object.entries(props.attributes).sort(([a], [b]) => a.localeCompare(b));
  if (entries.length === 0) return <p class="muted small">no attributes</p>;
  return (
    <table class="kv">
      {props.caption ? <caption>{props.caption}</caption> : null}
      <tbody>
        {entries.map(([key, value]) => (
          <tr>
            <th scope="row">{key}</th>
            <td>
              <AttributeValue name={key} value={value} />
            </td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}

function AttributeValue(props: { name: string; value: unknown }) {
  const text = attributeText(props.value);
  if (MESSAGE_ID_KEYS.has(props.name)) {
    return (
      <span class="val">
        <a href={`/logs?q=${encodeURIComponent(text)}`} title="this message's log records">
          {text}
        </a>{" "}
        <a
          class="muted small"
          href={`/?attr=${encodeURIComponent(`${props.name}:${text}`)}`}
          title="traces with this attribute"
        >
          traces
        </a>
      </span>
    );
  }
  if (props.name === "service.name") {
    return <ServiceChip service={text} />;
  }
  return <span class="val">{text}</span>;
}
