// The API's JSON, as the web app sees it. Most types come from the OpenAPI document that the
// server generates from its handlers (openapi.d.ts, `npm run openapi`); the peer-to-peer API
// (/api/v1/p2p, /api/v1/peers) is not in that document yet, so its types are written here.
import type { components } from './openapi';

type Schemas = components['schemas'];

export type State = Schemas['State'];
export type Role = Schemas['Role'];
export type Scope = Schemas['Scope'];
export type User = Schemas['User'];
export type SignedIn = Schemas['SignedIn'];
export type SetupState = Schemas['SetupState'];
export type SsoState = Schemas['SsoState'];
export type Resume = Schemas['Resume'];
/** An item as /api/v1/items lists it. */
export type ListedItem = Schemas['Listed'];
export type ItemList = Schemas['ItemList'];
/** One item with its packages, renditions, tracks and streams (/api/v1/items/{id}). */
export type ItemDetail = Schemas['ItemDetail'];
export type Variant = Schemas['Variant'];
export type AudioRendition = Schemas['AudioRendition'];
export type SubtitleInfo = Schemas['SubtitleInfo'];
export type Stream = Schemas['Stream'];
export type PackageState = Schemas['PackageState'];
export type LibraryInfo = Schemas['LibraryInfo'];
export type LibraryList = Schemas['LibraryList'];
export type TokenInfo = Schemas['TokenInfo'];
export type TokenList = Schemas['TokenList'];
export type CreatedToken = Schemas['CreatedToken'];
export type NewToken = Schemas['NewToken'];
export type AuditEvent = Schemas['AuditEvent'];
export type AuditList = Schemas['AuditList'];
export type UserList = Schemas['UserList'];
export type NewUser = Schemas['NewUser'];
export type UserChange = Schemas['UserChange'];
export type Position = Schemas['Position'];
/** The admin's live view (GET /api/v1/admin/stats, and each `stats` event of /api/v1/admin/live). */
export type Snapshot = Schemas['Snapshot'];
/** A stream in progress: who, which item, its rendition and bit rate. */
export type LiveStream = Schemas['Stream_'];
/** An item being transcoded, with its progress (0 to 1). */
export type Transcoding = Schemas['Transcoding'];

/**
 * An item as listed, or with its details (the player uses them when they are there): what cards,
 * posters and the player take.
 */
export type AnyItem = ListedItem & Partial<Omit<ItemDetail, keyof ListedItem>>;

// ------------------------------------------------------------ peer to peer (not in OpenAPI)

/** GET /api/v1/p2p: this gateway (404: sharing is off). */
export interface Gateway {
  peerId: string;
  friendCode?: string | null;
  listening?: string[];
  bandwidth?: { uploadKbps?: number | null; perPeerUploadKbps?: number | null; downloadKbps?: number | null };
  /** False where the friends are a PeerGroup's spec.peers (a read-only mount): edit them there. */
  peersEditable?: boolean;
}

/** One friend of GET /api/v1/peers. */
export interface Peer {
  peerId: string;
  name?: string | null;
  connected: boolean;
  connection?: 'direct' | 'relayed' | null;
  bytesUp?: number;
  bytesDown?: number;
  /** Ours that they may see; "*" is all of them. */
  libraries?: string[];
  /** Their own upload limit (kbit/s); absent: the gateway's per-friend limit. */
  uploadKbps?: number | null;
}

export interface PeerList {
  peers: Peer[];
}

/** POST /api/v1/peers: a friend to add (or change: the same PeerId). */
export interface NewPeer {
  /** Their friend code ("mow1:…") or bare PeerId. */
  code: string;
  name: string;
  /** Ours that they may see; ["*"] is all of them. */
  libraries: string[];
  /** Their own upload limit (kbit/s, 64-10000000); null: the gateway's per-friend limit. */
  uploadKbps?: number | null;
}

/** POST /api/v1/peers's answer: the friend as added, and maybe where they meet (`hint`). */
export interface AddedPeer {
  peerId: string;
  name: string;
  libraries: string[];
  /** The friend meets at another coordinator: what to tell the owner. */
  hint?: string | null;
}

/** A friend's item (GET /api/v1/peers/{peer}/items): a listed item with URLs through this gateway. */
export type FriendItem = ListedItem;

export interface FriendItemList {
  items: FriendItem[];
}

/** POST /api/v1/peers/{peer}/items/{id}/pin: what was kept. */
export interface Pinned {
  rendition?: string | null;
  files: number;
  bytes: number;
}
