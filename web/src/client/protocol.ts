// The wire shapes of docs/PROTOCOL.md sections 2-4: REST items and the
// WebSocket messages of the gateway. Types only, plus a few pure helpers;
// nothing here touches the network.

export type Kind = 'plan' | 'stub' | 'workorder' | 'project';

export type EventType =
  | 'plan_added'
  | 'plan_updated'
  | 'plan_deleted'
  | 'stub_added'
  | 'stub_updated'
  | 'stub_deleted'
  | 'workorder_added'
  | 'workorder_updated'
  | 'workorder_deleted'
  | 'project_added'
  | 'project_updated'
  | 'project_removed';

export const EVENT_TYPES: readonly EventType[] = [
  'plan_added',
  'plan_updated',
  'plan_deleted',
  'stub_added',
  'stub_updated',
  'stub_deleted',
  'workorder_added',
  'workorder_updated',
  'workorder_deleted',
  'project_added',
  'project_updated',
  'project_removed',
];

/** Fields every REST item carries (PROTOCOL.md section 2). */
export interface BaseItem {
  kind: Kind;
  key: string;
  project: string;
  project_name?: string;
  file_path: string;
  feature_name: string;
  location: string;
  last_modified?: string;
  valid?: boolean;
  parse_error?: string | null;
  size_bytes?: number;
  text_omitted?: boolean;
}

export interface PlanItem extends BaseItem {
  kind: 'plan';
  status: string;
  workorder_id: string;
}

export interface StubItem extends BaseItem {
  kind: 'stub';
  description?: string;
  category?: string;
  priority?: string;
  created?: string;
  status?: string;
  stub_id?: string;
}

export interface WorkorderItem extends BaseItem {
  kind: 'workorder';
  source: 'handoff' | 'log';
  workorder_id: string;
  status?: string;
  // hand-off
  type?: string;
  from?: string;
  to?: string;
  initiated_at?: string;
  // log line
  description?: string;
  timestamp?: string | null;
  line?: string;
  line_number?: number;
}

export interface ProjectItem extends BaseItem {
  kind: 'project';
  id: string;
  name: string;
  path: string;
  exists: boolean;
  has_coderef?: boolean;
  plans?: number;
  stubs?: number;
  workorders?: number;
}

export type AnyItem = PlanItem | StubItem | WorkorderItem | ProjectItem;

/** A change event as sent on the WebSocket. `item` is absent for deletions. */
export interface ChangeEventMessage {
  type: EventType;
  epoch: string;
  seq: number;
  project: string;
  feature_name?: string;
  location?: string;
  file_path?: string;
  key?: string;
  timestamp?: string;
  published?: string;
  item?: AnyItem;
}

export interface HelloMessage {
  type: 'hello';
  epoch: string;
  seq: number;
  ping_ms?: number;
  replayed?: number;
  gateway?: string;
}

export interface PingMessage {
  type: 'ping';
  ts?: number;
}

export type ResyncReason = 'epoch_changed' | 'history_gap' | 'overflow' | string;

export interface ResyncRequiredMessage {
  type: 'resync_required';
  reason: ResyncReason;
  epoch?: string;
  seq?: number;
}

export interface WatcherDownMessage {
  type: 'watcher_down';
}

export interface WatcherUpMessage {
  type: 'watcher_up';
  epoch?: string;
  /**
   * A new watcher process that resumed `epoch` from its saved state: nothing
   * to reload. `changes` were made while it was down; the client has them
   * all once its seq reaches `caught_up_seq`. Absent on a plain watcher_up.
   */
  restarted?: boolean;
  changes?: number;
  caught_up_seq?: number;
}

export type ServerMessage =
  | HelloMessage
  | PingMessage
  | ResyncRequiredMessage
  | WatcherDownMessage
  | WatcherUpMessage
  | ChangeEventMessage
  | { type: 'pong' }
  | { type: 'error'; error?: string };

const eventTypeSet = new Set<string>(EVENT_TYPES);

export function isChangeEvent(m: { type?: unknown }): m is ChangeEventMessage {
  return typeof m.type === 'string' && eventTypeSet.has(m.type);
}

/** `plan_added` -> `plan`. */
export function kindOf(type: EventType): Kind {
  return type.slice(0, type.indexOf('_')) as Kind;
}

/** `plan_added` -> `added`, `project_removed` -> `deleted`. */
export function actionOf(type: EventType): 'added' | 'updated' | 'deleted' {
  if (type.endsWith('_added')) return 'added';
  if (type.endsWith('_updated')) return 'updated';
  return 'deleted';
}
