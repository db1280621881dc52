// Runs Apache Curator recipe scenarios against one ZooKeeper server and prints one JSON
// object per scenario on stdout: {"scenario": ..., "ok": true|false, ...facts..., "error": ...}.
// Compiled and run by test_curator.py:  java CuratorDriver HOST:PORT BASEPATH SCENARIO...
// Facts are measured, not asserted, here; the Python test asserts on them.

import java.util.*;
import java.util.concurrent.*;
import java.util.concurrent.atomic.*;

import org.apache.curator.framework.CuratorFramework;
import org.apache.curator.framework.CuratorFrameworkFactory;
import org.apache.curator.framework.api.transaction.CuratorOp;
import org.apache.curator.framework.api.transaction.CuratorTransactionResult;
import org.apache.curator.framework.recipes.atomic.AtomicValue;
import org.apache.curator.framework.recipes.atomic.DistributedAtomicLong;
import org.apache.curator.framework.recipes.cache.CuratorCache;
import org.apache.curator.framework.recipes.cache.CuratorCacheListener;
import org.apache.curator.framework.recipes.leader.LeaderLatch;
import org.apache.curator.framework.recipes.locks.InterProcessMutex;
import org.apache.curator.framework.state.ConnectionState;
import org.apache.curator.retry.ExponentialBackoffRetry;
import org.apache.curator.retry.RetryNTimes;

public class CuratorDriver {
    static String connect;
    static String base;
    // Connection-state changes other than CONNECTED seen by any client: a SUSPENDED or LOST
    // here means the Java client dropped its connection, the root of a lost reply.
    static final List<String> stateChanges = Collections.synchronizedList(new ArrayList<>());

    static CuratorFramework client(String name) throws Exception {
        CuratorFramework c = CuratorFrameworkFactory.builder()
            .connectString(connect)
            .sessionTimeoutMs(10000)
            .connectionTimeoutMs(10000)
            .retryPolicy(new RetryNTimes(3, 200))
            .build();
        c.getConnectionStateListenable().addListener((cl, s) -> {
            if (s != ConnectionState.CONNECTED) stateChanges.add(name + ":" + s);
        });
        c.start();
        if (!c.blockUntilConnected(15, TimeUnit.SECONDS)) throw new RuntimeException(name + " did not connect");
        return c;
    }

    static String q(String s) {
        StringBuilder b = new StringBuilder("\"");
        for (char ch : s.toCharArray()) {
            if (ch == '"' || ch == '\\') b.append('\\').append(ch);
            else if (ch < 0x20) b.append(String.format("\\u%04x", (int) ch));
            else b.append(ch);
        }
        return b.append('"').toString();
    }

    static String json(Map<String, Object> m) {
        StringBuilder b = new StringBuilder("{");
        boolean first = true;
        for (Map.Entry<String, Object> e : m.entrySet()) {
            if (!first) b.append(", ");
            first = false;
            b.append(q(e.getKey())).append(": ").append(value(e.getValue()));
        }
        return b.append("}").toString();
    }

    static String value(Object v) {
        if (v == null) return "null";
        if (v instanceof Boolean || v instanceof Number) return v.toString();
        if (v instanceof Collection) {
            StringBuilder b = new StringBuilder("[");
            boolean first = true;
            for (Object o : (Collection<?>) v) {
                if (!first) b.append(", ");
                first = false;
                b.append(value(o));
            }
            return b.append("]").toString();
        }
        return q(v.toString());
    }

    // Mutual exclusion: two clients, two threads each, a shared in-JVM counter of holders.
    static void mutex(Map<String, Object> r) throws Exception {
        String path = base + "/mutex";
        CuratorFramework a = client("mutexA"), b = client("mutexB");
        try {
            AtomicInteger holders = new AtomicInteger(), maxHolders = new AtomicInteger(), acquired = new AtomicInteger();
            List<Thread> threads = new ArrayList<>();
            List<String> errors = Collections.synchronizedList(new ArrayList<>());
            for (CuratorFramework c : new CuratorFramework[] {a, b, a, b}) {
                Thread t = new Thread(() -> {
                    InterProcessMutex m = new InterProcessMutex(c, path);
                    try {
                        for (int i = 0; i < 5; i++) {
                            if (!m.acquire(20, TimeUnit.SECONDS)) { errors.add("acquire timed out"); return; }
                            int h = holders.incrementAndGet();
                            maxHolders.accumulateAndGet(h, Math::max);
                            acquired.incrementAndGet();
                            Thread.sleep(5);
                            holders.decrementAndGet();
                            m.release();
                        }
                    } catch (Exception e) { errors.add(e.toString()); }
                });
                threads.add(t);
                t.start();
            }
            for (Thread t : threads) t.join(60000);
            r.put("acquired", acquired.get());
            r.put("max_holders", maxHolders.get());
            r.put("errors", errors);
            r.put("children_left", a.getChildren().forPath(path).size());
        } finally { a.close(); b.close(); }
    }

    // One leader of two; the other takes over when the leader's client closes.
    static void leader(Map<String, Object> r) throws Exception {
        String path = base + "/leader";
        CuratorFramework a = client("leaderA"), b = client("leaderB");
        try {
            LeaderLatch la = new LeaderLatch(a, path, "a"), lb = new LeaderLatch(b, path, "b");
            la.start();
            lb.start();
            boolean one = false;
            long deadline = System.currentTimeMillis() + 15000;
            while (System.currentTimeMillis() < deadline) {
                if (la.hasLeadership() ^ lb.hasLeadership()) { one = true; break; }
                Thread.sleep(20);
            }
            r.put("one_leader", one);
            r.put("both_leaders", la.hasLeadership() && lb.hasLeadership());
            LeaderLatch leader = la.hasLeadership() ? la : lb, other = leader == la ? lb : la;
            CuratorFramework leaderClient = leader == la ? a : b;
            r.put("first_leader", leader.getId());
            r.put("leader_seen_by_follower", other.getLeader().getId());
            leaderClient.close();  // closes the session: its latch node goes away
            r.put("failover", other.await(15, TimeUnit.SECONDS));
            r.put("second_leader", other.getId());
            other.close();
        } finally { a.close(); b.close(); }
    }

    // Concurrent increments from two clients, four threads: the final value is exact.
    static void atomicLong(Map<String, Object> r) throws Exception {
        String path = base + "/counter";
        CuratorFramework a = client("longA"), b = client("longB");
        try {
            final int perThread = 25;
            AtomicInteger succeeded = new AtomicInteger();
            List<String> errors = Collections.synchronizedList(new ArrayList<>());
            List<Thread> threads = new ArrayList<>();
            for (CuratorFramework c : new CuratorFramework[] {a, b, a, b}) {
                Thread t = new Thread(() -> {
                    DistributedAtomicLong l = new DistributedAtomicLong(c, path, new RetryNTimes(1000, 1));
                    try {
                        for (int i = 0; i < perThread; i++) {
                            AtomicValue<Long> v = l.increment();
                            if (v.succeeded()) succeeded.incrementAndGet(); else errors.add("increment not succeeded");
                        }
                    } catch (Exception e) { errors.add(e.toString()); }
                });
                threads.add(t);
                t.start();
            }
            for (Thread t : threads) t.join(60000);
            r.put("increments", 4 * perThread);
            r.put("succeeded", succeeded.get());
            r.put("final", new DistributedAtomicLong(a, path, new RetryNTimes(3, 10)).get().postValue());
            r.put("errors", errors);
        } finally { a.close(); b.close(); }
    }

    // A CuratorCache on a subtree: creates right after start must not fail, and the cache
    // sees create/set/delete events below it.
    static void cache(Map<String, Object> r) throws Exception {
        String path = base + "/cache";
        CuratorFramework a = client("cache");
        try {
            a.create().creatingParentsIfNeeded().forPath(path);
            List<String> events = Collections.synchronizedList(new ArrayList<>());
            CountDownLatch initialized = new CountDownLatch(1);
            CuratorCache cache = CuratorCache.build(a, path);
            cache.listenable().addListener(CuratorCacheListener.builder()
                .forCreates(n -> events.add("create " + n.getPath()))
                .forChanges((o, n) -> events.add("change " + n.getPath() + " " + new String(n.getData())))
                .forDeletes(n -> events.add("delete " + n.getPath()))
                .forInitialized(initialized::countDown)
                .build());
            cache.start();
            // straight after start: the addWatch request is in flight or just answered
            List<String> createErrors = new ArrayList<>();
            for (int i = 0; i < 5; i++) {
                try { a.create().forPath(path + "/n" + i, "v".getBytes()); }
                catch (Exception e) { createErrors.add("n" + i + ": " + e); }
            }
            r.put("initialized", initialized.await(10, TimeUnit.SECONDS));
            // "initialized" can come before the cache has handled the NodeCreated events of
            // n1..n4 (they wait on the client's event thread). CuratorCache reads a node when it
            // handles its event and compares versions, so a set or delete that overtakes that
            // read is never reported (same on Apache 3.8: a watcher that stalls the event
            // thread reproduces it there). Wait until the cache holds all five, as an
            // application must, before the changes whose events are checked.
            long seen = System.currentTimeMillis() + 10000;
            while (System.currentTimeMillis() < seen && !allCached(cache, path, 5)) Thread.sleep(10);
            r.put("cached_all_creates", allCached(cache, path, 5));
            a.create().forPath(path + "/n0/deep", "d".getBytes());
            a.setData().forPath(path + "/n1", "w".getBytes());
            a.delete().forPath(path + "/n2");
            long deadline = System.currentTimeMillis() + 10000;
            List<String> want = Arrays.asList("create " + path + "/n0/deep", "change " + path + "/n1 w", "delete " + path + "/n2");
            while (System.currentTimeMillis() < deadline && !events.containsAll(want)) Thread.sleep(20);
            r.put("create_errors", createErrors);
            r.put("events", new ArrayList<>(events));
            r.put("cached_n1", cache.get(path + "/n1").map(d -> new String(d.getData())).orElse(null));
            cache.close();
        } finally { a.close(); }
    }

    static boolean allCached(CuratorCache cache, String path, int n) {
        for (int i = 0; i < n; i++) if (!cache.get(path + "/n" + i).isPresent()) return false;
        return true;
    }

    // One transaction that applies (create + setData + check) and one that fails and applies nothing.
    static void transaction(Map<String, Object> r) throws Exception {
        String path = base + "/txn";
        CuratorFramework a = client("txn");
        try {
            a.create().creatingParentsIfNeeded().forPath(path, "0".getBytes());
            List<CuratorOp> ok = Arrays.asList(
                a.transactionOp().create().forPath(path + "/x", "x".getBytes()),
                a.transactionOp().setData().forPath(path, "1".getBytes()),
                a.transactionOp().check().withVersion(1).forPath(path));
            List<CuratorTransactionResult> results = a.transaction().forOperations(ok);
            List<String> types = new ArrayList<>();
            for (CuratorTransactionResult t : results) types.add(t.getType() + " " + t.getForPath());
            r.put("ok_results", types);
            r.put("data_after_ok", new String(a.getData().forPath(path)));
            List<CuratorOp> bad = Arrays.asList(
                a.transactionOp().create().forPath(path + "/y", "y".getBytes()),
                a.transactionOp().setData().forPath(path, "2".getBytes()),
                a.transactionOp().check().withVersion(99).forPath(path));
            String failure = null;
            try { a.transaction().forOperations(bad); }
            catch (Exception e) { failure = e.getClass().getSimpleName(); }
            r.put("bad_failure", failure);
            r.put("y_exists", a.checkExists().forPath(path + "/y") != null);
            r.put("data_after_bad", new String(a.getData().forPath(path)));
        } finally { a.close(); }
    }

    // Another client of the same server closes its session; a fresh create right after must
    // come back created, not NodeExists.
    static void closeSession(Map<String, Object> r) throws Exception {
        String path = base + "/close";
        CuratorFramework a = client("closeA");
        try {
            a.create().creatingParentsIfNeeded().forPath(path);
            // A also caches the subtree (a persistent recursive watch), so B's close reaches it
            // through both kinds of watch.
            CuratorCache cache = CuratorCache.build(a, path);
            CountDownLatch initialized = new CountDownLatch(1);
            cache.listenable().addListener(CuratorCacheListener.builder().forInitialized(initialized::countDown).build());
            cache.start();
            r.put("cache_initialized", initialized.await(10, TimeUnit.SECONDS));
            List<String> createErrors = new ArrayList<>();
            for (int round = 0; round < 5; round++) {
                CuratorFramework b = client("closeB" + round);
                b.create().withMode(org.apache.zookeeper.CreateMode.EPHEMERAL).forPath(path + "/eph" + round);
                // A waits on B's ephemeral like a lock or latch waiter: B's close deletes it and
                // A gets NodeDeleted and NodeChildrenChanged notifications amid its own requests.
                a.checkExists().usingWatcher((org.apache.zookeeper.Watcher) e -> {}).forPath(path + "/eph" + round);
                a.getChildren().usingWatcher((org.apache.zookeeper.Watcher) e -> {}).forPath(path);
                b.close();
                try { a.create().forPath(path + "/fresh" + round); }
                catch (Exception e) { createErrors.add("fresh" + round + ": " + e); }
            }
            r.put("create_errors", createErrors);
            r.put("children", a.getChildren().forPath(path));
            cache.close();
        } finally { a.close(); }
    }

    public static void main(String[] args) throws Exception {
        connect = args[0];
        base = args[1];
        for (int i = 2; i < args.length; i++) {
            String s = args[i];
            Map<String, Object> r = new LinkedHashMap<>();
            r.put("scenario", s);
            stateChanges.clear();
            long t0 = System.nanoTime();
            try {
                switch (s) {
                    case "mutex": mutex(r); break;
                    case "leader": leader(r); break;
                    case "atomic_long": atomicLong(r); break;
                    case "cache": cache(r); break;
                    case "transaction": transaction(r); break;
                    case "close_session": closeSession(r); break;
                    default: throw new IllegalArgumentException("unknown scenario " + s);
                }
                r.put("ok", true);
            } catch (Throwable e) {
                r.put("ok", false);
                r.put("error", e.toString());
            }
            r.put("state_changes", new ArrayList<>(stateChanges));
            r.put("ms", (System.nanoTime() - t0) / 1000000);
            System.out.println(json(r));
            System.out.flush();
        }
        System.exit(0);
    }
}
