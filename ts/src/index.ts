// Public entry point of the condcast TypeScript library.
export * from "./wire/constants.js";
export * from "./wire/reasons.js";
export { type AuthKey, type KeyRing, parseKeyHex, readKeyFile } from "./wire/auth.js";
export { bytesToUuid, formatSenderId, isUuid, parseSenderId, uuidToBytes } from "./wire/ids.js";
export { type ObjectMetadata, type ReceivedObject, md5Hex } from "./wire/object.js";
export { ObjectEncoder, type ObjectToEncode } from "./wire/object-encoder.js";
export { encodeCommit, encodeHeartbeat, encodeLifecycle, type CommitInfo, type HeartbeatInfo, type LifecycleInfo, type LifecycleKind } from "./wire/control.js";
export { DatagramDecoder, type Decoded, type DecodeOptions } from "./wire/decode.js";
export { FragmentView } from "./wire/fragment.js";
export { Sender, type SenderOptions, type OutgoingObject, type SentObject, type LifecycleChange, type OutgoingCommit } from "./sender/sender.js";
export { Receiver, type ReceiverOptions, type ListeningInfo } from "./receiver/receiver.js";
export { ReceiverCounters } from "./receiver/counters.js";
export { ChangesetStager, DEFAULT_STAGED_TIMEOUT_MS, type ChangesetDelivery, type ChangesetStagerOptions, type CommitIgnored } from "./receiver/changeset-stager.js";
export { PartialObject, type ByteRange } from "./receiver/partial-object.js";
export { Reassembler, finishObject, type ReassemblerOptions } from "./receiver/reassembler.js";
export { SequenceTracker, type SequenceGap } from "./receiver/sequence-tracker.js";
