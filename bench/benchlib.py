"""Shared helpers for walmgr's benchmarks: real PostgreSQL, a loopback sshd, timing.

Every helper runs programs from argv lists. Servers are stopped by PID in `cleanup()`, which
the scripts register with atexit. Results are medians with min-max, and ratios against a floor
measured in the same run, alternating A B A B because these machines are noisy.
"""
import atexit
import os
import platform
import pwd
import shlex
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PG15 = "/usr/lib/postgresql/15/bin"
IS_ROOT = os.geteuid() == 0
RUN_AS = "postgres" if IS_ROOT else None
_cleanups = []


def cleanup():
    while _cleanups:
        try:
            _cleanups.pop()()
        except Exception as error:  # keep tearing down the rest
            print(f"cleanup: {error}")


atexit.register(cleanup)


def demote():
    """preexec_fn: become the server user when root (PostgreSQL refuses root)."""
    if RUN_AS:
        pw = pwd.getpwnam(RUN_AS)
        os.initgroups(RUN_AS, pw.pw_gid)
        os.setgid(pw.pw_gid)
        os.setuid(pw.pw_uid)
        os.environ["HOME"] = pw.pw_dir


def run(argv, as_user=True, check=True, **kw):
    env = dict(os.environ)
    if as_user and RUN_AS:
        env["HOME"] = pwd.getpwnam(RUN_AS).pw_dir
    return subprocess.run(argv, preexec_fn=demote if as_user else None, check=check,
                          env=env, capture_output=True, text=True, **kw)


def scratch(prefix="wmb"):
    path = tempfile.mkdtemp(prefix=prefix + "-", dir="/tmp")
    os.chmod(path, 0o755)
    if RUN_AS:
        pw = pwd.getpwnam(RUN_AS)
        os.chown(path, pw.pw_uid, pw.pw_gid)
    _cleanups.append(lambda: shutil.rmtree(path, ignore_errors=True))
    return path


def chown(path):
    if RUN_AS:
        pw = pwd.getpwnam(RUN_AS)
        os.chown(path, pw.pw_uid, pw.pw_gid)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


PERF_SCRATCH = ".build-perf"


def build_release():
    """The release binary benches use: $WALMGR_BIN, else a static build in .build-perf."""
    chosen = os.environ.get("WALMGR_BIN") or os.environ.get("WALMGR_BINARY")
    if chosen:
        return chosen
    # Always asked: incremental, so quick when nothing changed, and never a stale binary.
    subprocess.run(["swift", "build", "-c", "release", "--static-swift-stdlib",
                    "--scratch-path", PERF_SCRATCH], cwd=ROOT, check=True)
    return os.path.join(ROOT, PERF_SCRATCH, "release/walmgr")


def walmgr_binary(dest_dir):
    """Copies the release build (see build_release) where the server user can run it."""
    copy = os.path.join(dest_dir, "walmgr")
    shutil.copy(build_release(), copy)
    os.chmod(copy, 0o755)
    return copy


class Cluster:
    def __init__(self, bindir=PG15, conf=""):
        self.bindir = bindir
        self.dir = scratch("wmb-pg")
        self.data = os.path.join(self.dir, "data")
        self.port = free_port()
        run([f"{bindir}/initdb", "-A", "trust", "-U", "postgres", "-N", "-D", self.data],
            cwd=self.dir)
        with open(os.path.join(self.data, "postgresql.conf"), "a") as f:
            f.write(f"port = {self.port}\nunix_socket_directories = '{self.dir}'\n"
                    f"listen_addresses = '127.0.0.1'\nmax_wal_size = '1GB'\n{conf}\n")
        _cleanups.append(self.stop)

    def start(self):
        run([f"{self.bindir}/pg_ctl", "-w", "-D", self.data, "-l", self.data + ".log", "start"],
            cwd=self.dir)

    def stop(self, mode="fast"):
        pidfile = os.path.join(self.data, "postmaster.pid")
        if not os.path.exists(pidfile):
            return
        pid = int(open(pidfile).readline())
        os.kill(pid, {"fast": signal.SIGINT, "immediate": signal.SIGQUIT}[mode])
        for _ in range(600):
            try:
                os.kill(pid, 0)
            except ProcessLookupError:
                return
            time.sleep(0.05)

    def psql(self, sql):
        out = run([f"{self.bindir}/psql", "-XAtq", "-h", self.dir, "-p", str(self.port), "-U",
                   "postgres", "-d", "postgres", "-c", sql], cwd=self.dir)
        return out.stdout.strip()

    def pgbench(self, *args):
        return run([f"{self.bindir}/pgbench", "-h", self.dir, "-p", str(self.port), "-U",
                    "postgres", *args, "postgres"], cwd=self.dir)


class SSHD:
    """A private sshd on 127.0.0.1 for the server user, with its own keys and known_hosts."""

    def __init__(self):
        self.dir = scratch("wmb-ssh")
        self.port = free_port()
        user = RUN_AS or pwd.getpwuid(os.geteuid()).pw_name
        os.makedirs("/run/sshd", mode=0o755, exist_ok=True)
        for key in ("host_key", "client_key"):
            subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f",
                            os.path.join(self.dir, key)], check=True)
        self.key = os.path.join(self.dir, "client_key")
        chown(self.key)
        os.makedirs(os.path.join(self.dir, "authorized_keys"), exist_ok=True)
        shutil.copy(self.key + ".pub", os.path.join(self.dir, "authorized_keys", user))
        host_pub = " ".join(open(os.path.join(self.dir, "host_key.pub")).read().split()[:2])
        self.known_hosts = os.path.join(self.dir, "known_hosts")
        with open(self.known_hosts, "w") as f:
            f.write(f"[127.0.0.1]:{self.port} {host_pub}\n")
        chown(self.known_hosts)
        config = os.path.join(self.dir, "sshd_config")
        with open(config, "w") as f:
            f.write(f"Port {self.port}\nListenAddress 127.0.0.1\n"
                    f"HostKey {self.dir}/host_key\nPidFile {self.dir}/sshd.pid\n"
                    f"AuthorizedKeysFile {self.dir}/authorized_keys/%u\n"
                    "PubkeyAuthentication yes\nPasswordAuthentication no\n"
                    "KbdInteractiveAuthentication no\n"
                    f"UsePAM {'yes' if IS_ROOT else 'no'}\nStrictModes no\nAllowUsers {user}\n")
        self.proc = subprocess.Popen(["/usr/sbin/sshd", "-D", "-e", "-f", config],
                                     stderr=subprocess.DEVNULL)
        _cleanups.append(self.stop)
        for _ in range(200):
            with socket.socket() as s:
                if s.connect_ex(("127.0.0.1", self.port)) == 0:
                    break
            time.sleep(0.02)
        self.user = user
        self.host = "127.0.0.1"

    def options(self):
        return ["-F", "/dev/null", "-p", str(self.port), "-i", self.key, "-o",
                "IdentitiesOnly=yes", "-o", f"UserKnownHostsFile={self.known_hosts}"]

    def walmgr_keys(self):
        """The wal-master.ini lines that send walmgr's slave commands through this sshd."""
        opts = " ".join(shlex.quote(o) for o in self.options())
        return f"slave = {self.user}@{self.host}\nssh_options = {opts}\n"

    def rsync_shell(self):
        """rsync's `-e` value for this sshd, as a DBA's script would pass it."""
        return " ".join(shlex.quote(o) for o in ["ssh"] + self.options() + ["-l", self.user])

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(timeout=10)


def wait_for(condition, seconds=60, what="a condition", poll=0.05):
    """Polls `condition` until it is true; exits naming `what` after `seconds`."""
    deadline = time.time() + seconds
    while not condition():
        if time.time() > deadline:
            raise SystemExit(f"{os.path.basename(sys.argv[0])}: timed out after {seconds} s "
                             f"waiting for {what}")
        time.sleep(poll)


def alternate(pairs, rounds):
    """Runs each (name, fn) in turn, `rounds` times, A B A B; returns {name: [seconds]}."""
    times = {name: [] for name, _ in pairs}
    for i in range(rounds):
        for name, fn in pairs:
            t0 = time.perf_counter()
            fn(i)
            times[name].append(time.perf_counter() - t0)
    return times


def row(name, samples, floor=None):
    med = statistics.median(samples) * 1000
    text = (f"| {name} | {med:.1f} ms | {min(samples) * 1000:.1f}–{max(samples) * 1000:.1f} ms"
            f" | {len(samples)} |")
    if floor:
        text += f" {med / (statistics.median(floor) * 1000):.2f}× |"
    else:
        text += " – |"
    return text


def machine():
    cpu = platform.processor() or platform.machine()
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"{cpu}, {os.cpu_count()} cores, Linux {platform.release()}"


def real_segments(cluster, count, dest, scale="10"):
    """Runs pgbench until `count` segments of TPC-B WAL are complete; copies them to `dest`."""
    cluster.pgbench("-i", "-q", "-s", scale)
    # Same TPC-B records, written faster: commits need not wait for fsync while generating.
    cluster.psql("ALTER SYSTEM SET synchronous_commit = off")
    cluster.psql("SELECT pg_reload_conf()")
    first = cluster.psql("SELECT pg_walfile_name(pg_current_wal_lsn())")
    while True:
        cluster.pgbench("-c", "4", "-j", "2", "-T", "10", "-n")
        now = cluster.psql("SELECT pg_walfile_name(pg_current_wal_lsn())")
        if int(now[8:], 16) - int(first[8:], 16) >= count + 1:
            break
    wal = os.path.join(cluster.data, "pg_wal")
    names = sorted(n for n in os.listdir(wal) if len(n) == 24 and first < n < now)[:count]
    os.makedirs(dest)
    for name in names:
        shutil.copy(os.path.join(wal, name), os.path.join(dest, name))
    run(["chmod", "-R", "a+rX", dest], as_user=False)
    return [os.path.join(dest, n) for n in names]


class CephRGW:
    """A throwaway single-node Ceph (1 mon, 1 memstore OSD, no mgr) whose RADOS Gateway serves
    S3 over TLS on 127.0.0.1 with a self-signed certificate (``ca_file``). The same recipe as
    Tests/WalCoreTests/Harness/CephRGW.swift; daemons run as root and stop by their pid files."""

    ACCESS_KEY = "walmgrbenchaccesskey"
    SECRET_KEY = "walmgrbenchsecretkey0123456789abcdefghij"

    def __init__(self):
        self.dir = scratch("wmb-ceph")
        self.port = free_port()
        self.endpoint = f"https://127.0.0.1:{self.port}"
        self.ca_file = os.path.join(self.dir, "tls", "cert.pem")
        self.conf = os.path.join(self.dir, "ceph.conf")
        _cleanups.append(self.stop)
        for sub in ("run", "log", "mon.a", "osd.0", "rgw.a", "crash", "tls"):
            os.makedirs(os.path.join(self.dir, sub))
        run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
             "-keyout", f"{self.dir}/tls/key.pem", "-out", self.ca_file, "-subj", "/CN=127.0.0.1",
             # pgBackRest matches the endpoint only against DNS names: both kinds are listed.
             "-addext", "subjectAltName=IP:127.0.0.1,DNS:127.0.0.1"], as_user=False)
        os.chmod(os.path.join(self.dir, "tls"), 0o755)
        os.chmod(self.ca_file, 0o644)
        self._boot()

    def _ceph(self, *argv, conf=True):
        args = [argv[0]] + (["-c", self.conf] if conf else []) + list(argv[1:])
        return run(args, as_user=False, timeout=120).stdout.strip()

    def _boot(self):
        fsid = subprocess.run(["uuidgen"], capture_output=True, text=True).stdout.strip()
        mon = free_port()
        osd_min = 20000 + (os.getpid() % 200) * 50
        with open(self.conf, "w") as f:
            f.write(self._config(fsid, mon, osd_min))
        self._ceph("monmaptool", "--create", "--fsid", fsid, "--addv", "a",
                   f"[v2:127.0.0.1:{mon}]", f"{self.dir}/monmap", conf=False)
        self._ceph("ceph-mon", "--mkfs", "-i", "a", "--monmap", f"{self.dir}/monmap")
        self._ceph("ceph-mon", "-i", "a")
        uuid = subprocess.run(["uuidgen"], capture_output=True, text=True).stdout.strip()
        osd = self._ceph("ceph", "osd", "new", uuid)
        self._ceph("ceph-osd", "-i", osd, "--mkfs", "--osd-uuid", uuid)
        self._ceph("ceph-osd", "-i", osd)
        for _ in range(600):
            if '"num_up_osds":1' in self._ceph("ceph", "osd", "stat", "-f", "json"):
                break
            time.sleep(0.1)
        else:
            raise RuntimeError("the OSD is not up after 60 s")
        self._ceph("radosgw", "-n", "client.rgw.a")
        self._ceph("radosgw-admin", "user", "create", "--uid=walmgr", "--display-name=walmgr",
                   f"--access-key={self.ACCESS_KEY}", f"--secret-key={self.SECRET_KEY}")
        for _ in range(600):
            if self.curl("GET", "/", check=False).stdout.strip() == "200":
                return
            time.sleep(0.1)
        raise RuntimeError(f"radosgw does not answer on {self.endpoint}")

    def curl(self, method, path, upload=None, check=True):
        """One SigV4-signed request with curl; stdout is the HTTP status."""
        argv = ["curl", "-s", "-o", "/dev/null", "-w", "%{http_code}", "-X", method,
                "--cacert", self.ca_file, "--aws-sigv4", "aws:amz:us-east-1:s3",
                "--user", f"{self.ACCESS_KEY}:{self.SECRET_KEY}",
                "-H", "x-amz-content-sha256: UNSIGNED-PAYLOAD"]
        if upload:
            argv += ["-T", upload]
        return run(argv + [self.endpoint + path], as_user=False, check=check)

    def make_bucket(self, bucket):
        status = self.curl("PUT", f"/{bucket}").stdout.strip()
        if status != "200":
            raise RuntimeError(f"cannot create bucket {bucket}: HTTP {status}")

    def bucket_bytes(self, bucket):
        """Bytes of the objects stored in `bucket`, from RGW's own accounting."""
        import json
        stats = json.loads(self._ceph("radosgw-admin", "bucket", "stats", f"--bucket={bucket}"))
        return sum(u.get("size", 0) for u in stats.get("usage", {}).values())

    def _config(self, fsid, mon, osd_min):
        """scripts/ceph.conf.in (the test harness reads it too) with this cluster's values."""
        d = self.dir
        values = {"FSID": fsid, "MON_PORT": mon, "PORT_MIN": osd_min, "PORT_MAX": osd_min + 40,
                  "DIR": d, "OBJECTSTORE": "memstore", "MEMSTORE_BYTES": 4294967296,
                  "RGW_FRONTENDS": f"beast ssl_endpoint=127.0.0.1:{self.port} "
                                   f"ssl_certificate={self.ca_file} ssl_private_key={d}/tls/key.pem"}
        here = os.path.dirname(os.path.abspath(__file__))
        with open(os.path.join(here, "..", "scripts", "ceph.conf.in")) as f:
            text = f.read()
        for name, value in values.items():
            text = text.replace(f"@{name}@", str(value))
        return text

    def stop(self):
        for name in ("client.rgw.a", "osd.0", "mon.a"):
            try:
                pid = int(open(os.path.join(self.dir, "run", f"{name}.pid")).read().strip())
            except (OSError, ValueError):
                continue
            try:
                os.kill(pid, signal.SIGTERM)
            except ProcessLookupError:
                continue
            for _ in range(400):
                try:
                    os.kill(pid, 0)
                    if open(f"/proc/{pid}/stat").read().split(")")[1].split()[0] == "Z":
                        break
                except (ProcessLookupError, FileNotFoundError):
                    break
                time.sleep(0.05)


def syncfs(path):
    """syncfs(2) of the file system holding `path` (what `sync -f` does), via libc."""
    import ctypes
    fd = os.open(path, os.O_RDONLY)
    try:
        if ctypes.CDLL(None, use_errno=True).syncfs(fd) != 0:
            raise OSError(ctypes.get_errno(), "syncfs", path)
    finally:
        os.close(fd)


def plain_copy(src, dst, skip_top=()):
    """The floor for copy speed: every file of `src` copied to `dst` with copy_file_range(2) in
    the kernel, one thread, no checksums, then one syncfs; top-level names in `skip_top` are
    left out. Returns the bytes copied."""
    total = 0
    for root, dirs, names in os.walk(src):
        rel = os.path.relpath(root, src)
        if rel == ".":
            dirs[:] = [d for d in dirs if d not in skip_top]
            names = [n for n in names if n not in skip_top]
        os.makedirs(os.path.join(dst, rel), exist_ok=True)
        for name in names:
            source = os.path.join(root, name)
            if os.path.islink(source):
                os.symlink(os.readlink(source), os.path.join(dst, rel, name))
                continue
            fin = os.open(source, os.O_RDONLY)
            fout = os.open(os.path.join(dst, rel, name), os.O_WRONLY | os.O_CREAT | os.O_EXCL,
                           0o600)
            while (n := os.copy_file_range(fin, fout, 1 << 24)) > 0:
                total += n
            os.close(fin)
            os.close(fout)
    syncfs(dst)
    return total


def ratios(samples, floor):
    """Round-by-round ratios of two alternated contenders (sample i against floor i)."""
    return [a / b for a, b in zip(samples, floor)]


def rate(size, samples):
    """MB/s of `size` bytes at the median time."""
    return f"{size / 1e6 / statistics.median(samples):.0f} MB/s"
