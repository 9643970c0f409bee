/**
 * A `messages` row and its JSON form.
 * @module
 */

/** A row of the `messages` table. */
export interface MessageRow extends Record<string, unknown> {
  readonly id: string;
  readonly content: string;
  readonly source: string;
  readonly created_at: Date;
}

/** The row as the API returns it. */
export function toJson(row: MessageRow) {
  return {
    id: row.id,
    content: row.content,
    source: row.source,
    createdAt: new Date(row.created_at).toISOString(),
  };
}
