"""A Kubernetes control plane without nodes, with Dapr's admission side, on loopback.

What envtest runs, plus what a chart's admission needs: etcd, kube-apiserver (RBAC, Pod
Security admission), kube-controller-manager (Deployments and StatefulSets become Pods),
and Dapr 1.18.2 as `dapr init -k` installs it, through the real `helm`: its CRDs, RBAC,
Services, Configuration and MutatingWebhookConfiguration. Dapr's sentry, sidecar injector
and operator run as local processes standing in for their (Pending) Pods. The binaries
come from `make k8s-control-plane` (k8s-control-plane/build.sh).

How the API server reaches the webhook without nodes, kube-proxy or /etc/hosts: the
Service CIDR is a loopback range (127.1.0.0/16; only Endpoints refuse loopback, not
ClusterIPs). kube-apiserver resolves a webhook Service to its ClusterIP and port, and
checks the serving certificate against `<service>.<namespace>.svc`: the injector listens
on a free port, set on its Service, with the certificate sentry issued it for that name;
sentry and the operator listen on their Services' ClusterIPs. Every other port is a free one.

    python -m tests.k8s.cluster [WORKDIR]   # start it, print KUBECONFIG=..., Ctrl-C stops it
"""

from __future__ import annotations

import contextlib
import ctypes
import json
import os
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

REPO = Path(__file__).resolve().parents[2]
BUILD = REPO / "k8s-control-plane" / ".build"
BIN = BUILD / "bin"
DAPR_CHART = BUILD / "dapr-chart"
BINARIES = (
    "etcd",
    "kube-apiserver",
    "kube-controller-manager",
    "kubectl",
    "helm",
    "sentry",
    "injector",
    "operator",
)
DAPR_VERSION = "1.18.2"
DAPR_NAMESPACE = "dapr-system"
SERVICE_CIDR = "127.1.0.0/16"
TRUST_DOMAIN = "cluster.local"
# What `dapr init -k` passes to Dapr's chart (dapr/cli pkg/kubernetes/kubernetes.go) that
# matters here: the image tag the injector writes into every sidecar.
DAPR_INIT_VALUES = (f"global.tag={DAPR_VERSION}", "global.ha.enabled=false")

T = TypeVar("T")


class ControlPlaneError(RuntimeError):
    pass


class ProcessExited(ControlPlaneError):
    pass


def missing_binaries() -> list[str]:
    return [b for b in BINARIES if not (BIN / b).is_file()]


def _die_with_parent() -> None:
    """Linux's PR_SET_PDEATHSIG: the process gets SIGTERM if whoever started it dies
    without stopping it (a killed test run), instead of living on."""
    if sys.platform == "linux":
        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_for(what: str, check: Callable[[], T | None], timeout: float = 60.0) -> T:
    """Poll `check` until it returns something other than None/False; its errors retry."""
    deadline = time.monotonic() + timeout
    last: Exception | None = None
    while time.monotonic() < deadline:
        try:
            result = check()
            if result is not None and result is not False:
                return result
        except ProcessExited:
            raise
        except Exception as e:  # anything a server not yet ready raises
            last = e
        time.sleep(0.3)
    raise ControlPlaneError(f"timed out waiting for {what}" + (f": {last}" if last else ""))


def openssl(*args: str, cwd: Path) -> None:
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True)


def make_pki(pki: Path) -> None:
    """A CA, the API server's serving certificate, the service-account signing key pair."""
    pki.mkdir(parents=True, exist_ok=True)
    openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "ca.key",
            "-out", "ca.crt", "-days", "2", "-subj", "/CN=order-saga-test-ca", cwd=pki)  # fmt: skip
    sans = ",".join(
        ["IP:127.0.0.1", "IP:127.1.0.1", "DNS:localhost"]
        + [f"DNS:kubernetes{s}" for s in ("", ".default", ".default.svc", ".default.svc.cluster.local")]
    )
    (pki / "apiserver.ext").write_text(f"subjectAltName={sans}\nextendedKeyUsage=serverAuth\n")
    openssl("req", "-newkey", "rsa:2048", "-nodes", "-keyout", "apiserver.key",
            "-out", "apiserver.csr", "-subj", "/CN=kube-apiserver", cwd=pki)  # fmt: skip
    openssl("x509", "-req", "-in", "apiserver.csr", "-CA", "ca.crt", "-CAkey", "ca.key",
            "-CAcreateserial", "-out", "apiserver.crt", "-days", "2",
            "-extfile", "apiserver.ext", cwd=pki)  # fmt: skip
    openssl("genrsa", "-out", "sa.key", "2048", cwd=pki)
    openssl("rsa", "-in", "sa.key", "-pubout", "-out", "sa.pub", cwd=pki)


def kubeconfig(path: Path, server: str, ca: Path, user: str, token: str) -> Path:
    config = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": "local", "cluster": {"server": server, "certificate-authority": str(ca)}}],
        "users": [{"name": user, "user": {"token": token}}],
        "contexts": [{"name": "local", "context": {"cluster": "local", "user": user}}],
        "current-context": "local",
    }
    path.write_text(json.dumps(config, indent=2))  # JSON is YAML
    path.chmod(0o600)
    return path


def container_env(container: dict[str, Any], namespace: str) -> dict[str, str]:
    """A container's environment, as the kubelet would resolve what needs no node."""
    env: dict[str, str] = {}
    for var in container.get("env", []):
        if "value" in var:
            env[var["name"]] = var["value"]
        elif var.get("valueFrom", {}).get("fieldRef", {}).get("fieldPath") == "metadata.namespace":
            env[var["name"]] = namespace
    return env


class ControlPlane:
    """Start with `start()` (or as a context manager); `stop()` ends every process it began."""

    def __init__(self, workdir: Path) -> None:
        self.dir = workdir
        self.pki = workdir / "pki"
        self.logs = workdir / "logs"
        self.procs: list[tuple[str, subprocess.Popen[bytes]]] = []
        self.api_port = free_port()
        self.server = f"https://127.0.0.1:{self.api_port}"
        self.admin_kubeconfig = workdir / "admin.kubeconfig"
        self.injector_ip = ""

    # -- clients ---------------------------------------------------------------------------

    def env(self) -> dict[str, str]:
        return {
            **os.environ,
            "KUBECONFIG": str(self.admin_kubeconfig),
            # helm's caches and config stay in the work folder.
            "HELM_CACHE_HOME": str(self.dir / "helm" / "cache"),
            "HELM_CONFIG_HOME": str(self.dir / "helm" / "config"),
            "HELM_DATA_HOME": str(self.dir / "helm" / "data"),
        }

    def run(
        self, tool: str, *args: str, check: bool = True, stdin: str | None = None
    ) -> subprocess.CompletedProcess[str]:
        result = subprocess.run(
            [str(BIN / tool), *args], env=self.env(), input=stdin, capture_output=True, text=True, timeout=300
        )
        if check and result.returncode != 0:
            raise ControlPlaneError(
                f"{tool} {' '.join(args)} failed ({result.returncode}):\n{result.stderr}{result.stdout}"
            )
        return result

    def kubectl(
        self, *args: str, check: bool = True, stdin: str | None = None
    ) -> subprocess.CompletedProcess[str]:
        return self.run("kubectl", *args, check=check, stdin=stdin)

    def helm(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        return self.run("helm", *args, check=check)

    def get(self, *args: str) -> Any:
        """`kubectl get ... -o json`, parsed."""
        return json.loads(self.kubectl("get", *args, "-o", "json").stdout)

    # -- processes -------------------------------------------------------------------------

    def spawn(self, name: str, argv: list[str], env: dict[str, str] | None = None) -> subprocess.Popen[bytes]:
        self.logs.mkdir(parents=True, exist_ok=True)
        with (self.logs / f"{name}.log").open("ab") as log:
            proc = subprocess.Popen(
                argv,
                stdout=log,
                stderr=subprocess.STDOUT,
                env=env or dict(os.environ),
                start_new_session=True,
                preexec_fn=_die_with_parent,
            )
        self.procs.append((name, proc))
        return proc

    def alive(self, name: str) -> bool:
        return any(n == name and p.poll() is None for n, p in self.procs)

    def log_tail(self, name: str, lines: int = 30) -> str:
        path = self.logs / f"{name}.log"
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:]) if path.exists() else ""

    def expect_alive(self, name: str) -> None:
        if not self.alive(name):
            raise ProcessExited(f"{name} exited:\n{self.log_tail(name)}")

    def stop_process(self, name: str) -> None:
        for n, proc in self.procs:
            if n == name and proc.poll() is None:
                proc.terminate()
                proc.wait(timeout=15)
        self.procs = [(n, p) for n, p in self.procs if n != name]

    def stop(self) -> None:
        for _, proc in reversed(self.procs):
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for _, proc in reversed(self.procs):
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        self.procs.clear()

    def __enter__(self) -> ControlPlane:
        try:
            self.start()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- start -----------------------------------------------------------------------------

    def start(self) -> None:
        if missing := missing_binaries():
            raise ControlPlaneError(f"not built: {', '.join(missing)} (run `make k8s-control-plane`)")
        make_pki(self.pki)
        self.start_etcd()
        self.start_apiserver()
        self.start_controller_manager()
        self.install_dapr()
        self.start_sentry()
        self.start_injector()
        self.start_operator()

    def start_etcd(self) -> None:
        client, peer = free_port(), free_port()
        self.etcd_url = f"http://127.0.0.1:{client}"
        self.spawn("etcd", [
            str(BIN / "etcd"), "--name", "default", "--data-dir", str(self.dir / "etcd"),
            "--listen-client-urls", self.etcd_url, "--advertise-client-urls", self.etcd_url,
            "--listen-peer-urls", f"http://127.0.0.1:{peer}",
            "--initial-advertise-peer-urls", f"http://127.0.0.1:{peer}",
            "--initial-cluster", f"default=http://127.0.0.1:{peer}",
            # A throwaway store: no fsync, little memory.
            "--unsafe-no-fsync", "--quota-backend-bytes", str(512 * 1024 * 1024),
            "--log-level", "warn",
        ])  # fmt: skip

        def healthy() -> bool:
            self.expect_alive("etcd")
            with urllib.request.urlopen(f"{self.etcd_url}/health", timeout=2) as r:
                return bool(json.load(r).get("health") == "true")

        wait_for("etcd", healthy, 30)

    def start_apiserver(self) -> None:
        p = self.pki
        admin_token, kcm_token = os.urandom(16).hex(), os.urandom(16).hex()
        tokens = p / "tokens.csv"
        tokens.write_text(
            f'{admin_token},admin,admin,"system:masters"\n'
            f"{kcm_token},system:kube-controller-manager,system:kube-controller-manager\n"
        )
        tokens.chmod(0o600)
        self.spawn("kube-apiserver", [
            str(BIN / "kube-apiserver"),
            "--etcd-servers", self.etcd_url,
            # Else it advertises the machine's own interface address.
            "--advertise-address", "127.0.0.1", "--bind-address", "127.0.0.1",
            "--secure-port", str(self.api_port),
            "--tls-cert-file", str(p / "apiserver.crt"), "--tls-private-key-file", str(p / "apiserver.key"),
            "--client-ca-file", str(p / "ca.crt"),
            "--token-auth-file", str(tokens),
            "--authorization-mode", "RBAC", "--anonymous-auth=false",
            "--service-account-issuer", "https://kubernetes.default.svc.cluster.local",
            "--service-account-key-file", str(p / "sa.pub"),
            "--service-account-signing-key-file", str(p / "sa.key"),
            "--service-cluster-ip-range", SERVICE_CIDR,
            # Endpoints refuse the loopback address it advertises; no Pod runs to need them.
            "--endpoint-reconciler-type", "none",
            # PodSecurity, ServiceAccount and MutatingAdmissionWebhook are on by default.
            "--allow-privileged=true",
            "--profiling=false",
            "--v=1",
        ])  # fmt: skip
        ctx = ssl.create_default_context(cafile=str(p / "ca.crt"))

        def ready() -> bool:
            self.expect_alive("kube-apiserver")
            req = urllib.request.Request(
                f"{self.server}/readyz", headers={"Authorization": f"Bearer {admin_token}"}
            )
            with urllib.request.urlopen(req, timeout=3, context=ctx) as r:
                return bool(r.status == 200)

        kubeconfig(self.admin_kubeconfig, self.server, p / "ca.crt", "admin", admin_token)
        self.kcm_kubeconfig = kubeconfig(
            self.dir / "kcm.kubeconfig",
            self.server,
            p / "ca.crt",
            "system:kube-controller-manager",
            kcm_token,
        )
        wait_for("kube-apiserver /readyz", ready, 120)

    def start_controller_manager(self) -> None:
        self.spawn("kube-controller-manager", [
            str(BIN / "kube-controller-manager"),
            "--kubeconfig", str(self.kcm_kubeconfig),
            # Each controller acts as its own service account: the injector mutates only Pods
            # that the ReplicaSet, StatefulSet, Job... controllers' accounts create.
            "--use-service-account-credentials",
            "--service-account-private-key-file", str(self.pki / "sa.key"),
            "--root-ca-file", str(self.pki / "ca.crt"),
            "--bind-address", "127.0.0.1", "--secure-port", str(free_port()),
            "--leader-elect=false",
            "--v=1",
        ])  # fmt: skip

        def accounts() -> bool:
            self.expect_alive("kube-controller-manager")
            names = {
                sa["metadata"]["name"] for sa in self.get("serviceaccounts", "-n", "kube-system")["items"]
            }
            return {"replicaset-controller", "statefulset-controller", "deployment-controller"} <= names

        wait_for("the controllers' service accounts", accounts, 120)

    def install_dapr(self) -> None:
        """What `dapr init -k` installs: Dapr's chart, from the module it was built from."""
        sets = [a for v in DAPR_INIT_VALUES for a in ("--set", v)]
        self.helm(
            "install", "dapr", str(DAPR_CHART), "--namespace", DAPR_NAMESPACE, "--create-namespace", *sets
        )

    def newest_pod(self, app: str) -> str:
        """The newest live Pod of a Dapr Deployment: Pending, as no node runs it; the local
        process stands in for it, and sentry checks the process's token against it."""

        def find() -> str | None:
            items = self.get("pods", "-n", DAPR_NAMESPACE, "-l", f"app={app}")["items"]
            live = [p for p in items if "deletionTimestamp" not in p["metadata"]]
            live.sort(key=lambda p: str(p["metadata"]["creationTimestamp"]))
            return str(live[-1]["metadata"]["name"]) if live else None

        return wait_for(f"a Pod of {app}", find, 60)

    def reconfigure_dapr(self, *sets: str) -> None:
        """`helm upgrade` Dapr's release with `--set` values, then restart the injector with them."""
        args = [a for v in sets for a in ("--set", v)]
        # Undo start_injector's port patch first: helm's three-way merge of the Service's
        # ports would otherwise add 443 beside it.
        self.kubectl(
            "patch", "service", "dapr-sidecar-injector", "-n", DAPR_NAMESPACE, "--type", "json",
            "-p", json.dumps([{"op": "replace", "path": "/spec/ports/0/port", "value": 443}]),
        )  # fmt: skip
        self.helm("upgrade", "dapr", str(DAPR_CHART), "--namespace", DAPR_NAMESPACE, "--reuse-values", *args)
        self.stop_process("injector")
        self.start_injector()

    def service_ip(self, name: str) -> str:
        return str(self.get("service", name, "-n", DAPR_NAMESPACE)["spec"]["clusterIP"])

    def sa_kubeconfig(self, account: str) -> Path:
        """A kubeconfig for a Dapr service account: each process runs with the RBAC its chart grants."""
        token = self.kubectl(
            "create", "token", account, "-n", DAPR_NAMESPACE, "--duration", "24h"
        ).stdout.strip()
        return kubeconfig(
            self.dir / f"{account}.kubeconfig", self.server, self.pki / "ca.crt", account, token
        )

    def deployment_process(self, name: str) -> tuple[list[str], dict[str, str]]:
        """The Deployment's container args and env, as Dapr's chart rendered them."""
        container = self.get("deployment", name, "-n", DAPR_NAMESPACE)["spec"]["template"]["spec"][
            "containers"
        ][0]
        env = container_env(container, DAPR_NAMESPACE)
        return list(container.get("args", [])), {
            **os.environ,
            **env,
            # pkg/security refuses to run as root in Kubernetes mode without it.
            "DAPR_UNSAFE_SKIP_CONTAINER_UID_GID_CHECK": "true",
        }

    def start_sentry(self) -> None:
        args, env = self.deployment_process("dapr-sentry")
        # Where the Pod mounts the Secret dapr-trust-bundle: sentry watches the folder, and
        # in Kubernetes mode reads and writes the Secret itself through the API.
        credentials = self.dir / "sentry-credentials"
        credentials.mkdir(exist_ok=True)
        ip = self.service_ip("dapr-sentry")
        self.sentry_address = f"{ip}:443"
        self.spawn("sentry", [
            str(BIN / "sentry"), *args,
            "--kubeconfig", str(self.sa_kubeconfig("dapr-sentry")),
            "--issuer-credentials", str(credentials),
            "--listen-address", ip, "--port", "443",
            "--healthz-listen-address", "127.0.0.1", "--healthz-port", str(free_port()),
            "--metrics-port", str(free_port()),
        ], env)  # fmt: skip

        def bundle() -> str | None:
            self.expect_alive("sentry")
            data = self.get("configmap", "dapr-trust-bundle", "-n", DAPR_NAMESPACE).get("data") or {}
            return data.get("ca.crt") or None

        self.trust_anchors = self.dir / "dapr-trust-anchors.crt"
        self.trust_anchors.write_text(wait_for("sentry's trust bundle", bundle, 60))

        def listening() -> bool:
            self.expect_alive("sentry")
            socket.create_connection((ip, 443), 1).close()
            return True

        wait_for("sentry's port", listening, 30)

    def sentry_client_env(self, account: str, pod: str) -> dict[str, str]:
        """How a control-plane process reaches sentry: its address (the Service's ClusterIP),
        the trust anchors (the ConfigMap the Pod mounts), and the token the kubelet would
        project into the Pod (audience: sentry's SPIFFE ID), bound to that Pod, which sentry
        looks up to check the caller."""
        token = self.kubectl(
            "create", "token", account, "-n", DAPR_NAMESPACE, "--duration", "24h",
            "--audience", f"spiffe://{TRUST_DOMAIN}/ns/{DAPR_NAMESPACE}/dapr-sentry",
            "--bound-object-kind", "Pod", "--bound-object-name", pod,
        ).stdout.strip()  # fmt: skip
        token_file = self.dir / f"{account}-sentry-token"
        token_file.write_text(token)
        return {
            "DAPR_TRUST_ANCHORS_FILE": str(self.trust_anchors),
            "DAPR_SENTRY_ADDRESS": self.sentry_address,
            "DAPR_SENTRY_TOKEN_FILE": str(token_file),
        }

    def start_operator(self) -> None:
        """The operator: not needed to admit anything, but it makes the `{app id}-dapr`
        Services (daprd's ports and metrics annotations) the chart relies on, and serves
        the Subscription CRD's conversion webhook."""
        args, env = self.deployment_process("dapr-operator")
        env |= self.sentry_client_env("dapr-operator", self.newest_pod("dapr-operator"))
        # The operator reads sentry's address from the Configuration `daprsystem` only (no
        # flag or env): a copy of it that names sentry's ClusterIP leaves Dapr's own alone.
        config = self.get("configurations.dapr.io", "daprsystem", "-n", DAPR_NAMESPACE)
        config["spec"].setdefault("mtls", {})["sentryAddress"] = self.sentry_address
        config["metadata"] = {"name": "daprsystem-local", "namespace": DAPR_NAMESPACE}
        self.kubectl("apply", "-f", "-", stdin=json.dumps(config))
        self.spawn("operator", [
            str(BIN / "operator"), *args,
            "--kubeconfig", str(self.sa_kubeconfig("dapr-operator")),
            "--trust-anchors-file", str(self.trust_anchors),
            "--config", "daprsystem-local",
            "--listen-address", self.service_ip("dapr-api"), "--port", "443",
            "--webhook-server-listen-address", self.service_ip("dapr-webhook"),
            "--webhook-server-port", "443",
            # In a Pod, the lease's namespace comes from the service-account mount; one
            # operator needs no lease.
            "--disable-leader-election",
            "--healthz-listen-address", "127.0.0.1", "--healthz-port", str(healthz := free_port()),
            "--metrics-port", str(free_port()),
        ], env)  # fmt: skip

        def ready() -> bool:
            self.expect_alive("operator")
            with urllib.request.urlopen(f"http://127.0.0.1:{healthz}/healthz", timeout=2) as r:
                return bool(r.status == 200)

        wait_for("the operator", ready, 90)

    def start_injector(self) -> None:
        args, env = self.deployment_process("dapr-sidecar-injector")
        injector_pod = self.newest_pod("dapr-sidecar-injector")
        self.injector_ip = self.service_ip("dapr-sidecar-injector")
        # The webhook server of Dapr 1.18.2 ignores --listen-address and binds every interface
        # (pkg/injector/service/injector.go: tls.Listen(":port")), so not the Service's 443:
        # a free port, set on the Service and in the webhook's reference to it (default 443).
        port = free_port()
        self.kubectl(
            "patch", "service", "dapr-sidecar-injector", "-n", DAPR_NAMESPACE, "--type", "json",
            "-p", json.dumps([{"op": "replace", "path": "/spec/ports/0/port", "value": port}]),
        )  # fmt: skip
        self.kubectl(
            "patch", "mutatingwebhookconfiguration", "dapr-sidecar-injector", "--type", "json",
            "-p", json.dumps([{"op": "add", "path": "/webhooks/0/clientConfig/service/port", "value": port}]),
        )  # fmt: skip
        env |= self.sentry_client_env("dapr-injector", injector_pod)
        self.healthz_port = free_port()
        self.spawn("injector", [
            str(BIN / "injector"), *args,
            "--kubeconfig", str(self.sa_kubeconfig("dapr-injector")),
            "--port", str(port),
            "--healthz-listen-address", "127.0.0.1", "--healthz-port", str(self.healthz_port),
            "--metrics-port", str(free_port()),
        ], env)  # fmt: skip

        def ready() -> bool:
            self.expect_alive("injector")
            hooks = self.get("mutatingwebhookconfiguration", "dapr-sidecar-injector")["webhooks"]
            if not hooks[0]["clientConfig"].get("caBundle"):
                return False
            with urllib.request.urlopen(f"http://127.0.0.1:{self.healthz_port}/healthz", timeout=2) as r:
                return bool(r.status == 200)

        wait_for("the sidecar injector", ready, 90)


@contextlib.contextmanager
def control_plane(workdir: Path | None = None) -> Iterator[ControlPlane]:
    with contextlib.ExitStack() as stack:
        if workdir is None:
            workdir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="k8s-control-plane-")))
        with ControlPlane(workdir) as cp:
            yield cp


def _exit(signum: int, frame: object) -> None:
    raise SystemExit(128 + signum)


def main() -> None:
    # The processes run in sessions of their own (a Ctrl-C reaches only this one), so stop
    # them on SIGTERM too; and SIGINT explicitly, as a background job may inherit it ignored.
    signal.signal(signal.SIGTERM, _exit)
    signal.signal(signal.SIGINT, _exit)
    workdir = Path(sys.argv[1]).resolve() if len(sys.argv) > 1 else None
    started = time.monotonic()
    with control_plane(workdir) as cp:
        print(f"control plane up in {time.monotonic() - started:.0f} s", flush=True)
        if os.environ.get("K8S_CONTROL_PLANE_CHECK"):
            print("stopping it again (`make k8s-up` leaves it running)")
            return
        print(f"logs in {cp.logs}\nexport KUBECONFIG={cp.admin_kubeconfig}", flush=True)
        signal.pause()


if __name__ == "__main__":
    main()
