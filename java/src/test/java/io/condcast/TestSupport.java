package io.condcast;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/** Shared helpers: where the repository is, the golden vectors, a collecting listener. */
final class TestSupport {
    static final ObjectMapper JSON = new ObjectMapper();

    private TestSupport() {
    }

    /** The repository root: the condcast.root property (set by the pom), else the parent folder. */
    static Path root() {
        final String p = System.getProperty("condcast.root");
        return (p != null ? Path.of(p) : Path.of("..")).toAbsolutePath().normalize();
    }

    static Path vectorsDir() {
        return root().resolve("spec/vectors");
    }

    static List<String> vectorNames() throws IOException {
        final JsonNode index = JSON.readTree(vectorsDir().resolve("index.json").toFile());
        final List<String> names = new ArrayList<>();
        index.get("vectors").forEach(n -> names.add(n.asText()));
        return names;
    }

    static JsonNode vector(final String name) throws IOException {
        return JSON.readTree(vectorsDir().resolve(name + ".json").toFile());
    }

    static List<byte[]> datagrams(final JsonNode vector) throws IOException {
        final List<byte[]> out = new ArrayList<>();
        for (final JsonNode file : vector.get("datagrams")) {
            out.add(Files.readAllBytes(vectorsDir().resolve(file.asText())));
        }
        return out;
    }

    static java.util.SortedMap<String, String> metadata(final JsonNode pairs) {
        final Map<String, String> m = new LinkedHashMap<>();
        if (pairs != null) {
            pairs.forEach(p -> m.put(p.get(0).asText(), p.get(1).asText()));
        }
        return ObjectMetadata.sortedCopy(m);
    }

    static List<String> metadataKeysInOrder(final JsonNode pairs) {
        final List<String> keys = new ArrayList<>();
        if (pairs != null) {
            pairs.forEach(p -> keys.add(p.get(0).asText()));
        }
        return keys;
    }

    static AuthKey key(final JsonNode k) {
        return AuthKey.fromHex(k.get("id").asLong(), k.get("keyHex").asText());
    }

    /** Receiver options of a vector's "receiver" section. */
    static ReceiverOptions.Builder receiverOptions(final JsonNode vector) {
        final ReceiverOptions.Builder b = ReceiverOptions.builder();
        final JsonNode r = vector.get("receiver");
        if (r != null) {
            if (r.has("keys")) {
                final List<AuthKey> keys = new ArrayList<>();
                r.get("keys").forEach(k -> keys.add(key(k)));
                b.keys(keys);
            }
            if (r.has("maxEnvelopeLength")) {
                b.maxEnvelopeLength(r.get("maxEnvelopeLength").asLong());
            }
        }
        return b;
    }

    /** A changeset as onChangeset delivered it. */
    record Delivered(CommitInfo commit, List<ReceivedObject> objects) {
    }

    /** A listener that keeps everything it is told. */
    static class Collector implements ReceiverListener {
        final List<ReceivedObject> objects = new java.util.concurrent.CopyOnWriteArrayList<>();
        final List<DropReason> dropped = new java.util.concurrent.CopyOnWriteArrayList<>();
        final List<HeartbeatInfo> heartbeats = new java.util.concurrent.CopyOnWriteArrayList<>();
        final List<LifecycleInfo> lifecycles = new java.util.concurrent.CopyOnWriteArrayList<>();
        final List<CommitInfo> commits = new java.util.concurrent.CopyOnWriteArrayList<>();
        final List<SequenceGap> gaps = new java.util.concurrent.CopyOnWriteArrayList<>();
        final List<Throwable> errors = new java.util.concurrent.CopyOnWriteArrayList<>();
        final List<Delivered> changesets = new java.util.concurrent.CopyOnWriteArrayList<>();
        final List<ReceivedObject> stagedDropped = new java.util.concurrent.CopyOnWriteArrayList<>();
        final List<CommitInfo> ignored = new java.util.concurrent.CopyOnWriteArrayList<>();
        final List<Long> ignoredHeldKeys = new java.util.concurrent.CopyOnWriteArrayList<>();

        @Override
        public void onObject(final ReceivedObject object) {
            objects.add(object);
        }

        @Override
        public void onObjectDropped(final PartialObject partial, final DropReason reason) {
            dropped.add(reason);
        }

        @Override
        public void onHeartbeat(final HeartbeatInfo heartbeat) {
            heartbeats.add(heartbeat);
        }

        @Override
        public void onLifecycle(final LifecycleInfo lifecycle) {
            lifecycles.add(lifecycle);
        }

        @Override
        public void onCommit(final CommitInfo commit) {
            commits.add(commit);
        }

        @Override
        public void onChangeset(final CommitInfo commit, final List<ReceivedObject> objects) {
            changesets.add(new Delivered(commit, objects));
        }

        @Override
        public void onCommitIgnored(final CommitInfo commit, final long heldKey) {
            ignored.add(commit);
            ignoredHeldKeys.add(heldKey);
        }

        @Override
        public void onStagedObjectDropped(final ReceivedObject object, final DropReason reason) {
            stagedDropped.add(object);
            dropped.add(reason);
        }

        @Override
        public void onGap(final SequenceGap gap) {
            gaps.add(gap);
        }

        @Override
        public void onError(final Throwable error) {
            errors.add(error);
        }
    }
}
