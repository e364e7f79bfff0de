"""A private Dovecot IMAP server for a test: its own config, directories and a free loopback port.
Debian's dovecot-imapd provides the binary (.ci/run installs it). With ``Certificates`` it also
listens for IMAPS on a second port; ``make_certificates`` makes a CA of its own and a server
certificate it signs (Debian's openssl command line)."""

from __future__ import annotations

import contextlib
import imaplib
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

DOVECOT = shutil.which("dovecot") or "/usr/sbin/dovecot"
USER = "support@demo.madoguchi.test"
PASSWORD = "imap-secret"


def available() -> bool:
    return Path(DOVECOT).is_file()


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@dataclass(frozen=True)
class Certificates:
    ca: Path
    cert: Path
    key: Path


def _openssl(*args: str | Path) -> None:
    done = subprocess.run(["openssl", *map(str, args)], capture_output=True, check=False)
    if done.returncode:
        raise RuntimeError(f"openssl {args[0]} failed: {done.stderr.decode(errors='replace')}")


def make_certificates(directory: Path, *, san: str = "IP:127.0.0.1") -> Certificates:
    """A throwaway CA and a server certificate for ``san``. Complete enough for strict verification
    (key identifiers, key usage, a CA that is marked as one), so a failure means trust, not format."""
    ca, ca_key = directory / "ca.pem", directory / "ca.key"
    cert, key, csr = directory / "server.pem", directory / "server.key", directory / "server.csr"
    ec = ("-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes")
    _openssl("req", "-x509", *ec, "-days", "2", "-subj", "/CN=Madoguchi test CA", "-keyout", ca_key, "-out", ca,
             "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign")
    _openssl("req", "-new", *ec, "-subj", "/CN=Madoguchi test IMAP", "-keyout", key, "-out", csr)
    extensions = directory / "server.ext"
    extensions.write_text(f"subjectAltName={san}\nbasicConstraints=critical,CA:FALSE\n"
                          "keyUsage=critical,digitalSignature\nextendedKeyUsage=serverAuth\n"
                          "subjectKeyIdentifier=hash\nauthorityKeyIdentifier=keyid\n")
    _openssl("x509", "-req", "-in", csr, "-CA", ca, "-CAkey", ca_key, "-CAcreateserial", "-days", "2",
             "-out", cert, "-extfile", extensions)
    return Certificates(ca=ca, cert=cert, key=key)


@dataclass
class Dovecot:
    root: Path
    port: int
    process: subprocess.Popen[bytes]
    tls_port: int | None = None

    def client(self) -> imaplib.IMAP4:
        client = imaplib.IMAP4("127.0.0.1", self.port, timeout=10)
        client.login(USER, PASSWORD)
        return client

    def append(self, *messages: bytes, folder: str = "INBOX") -> None:
        client = self.client()
        try:
            for raw in messages:
                typ, data = client.append(folder, "", None, raw)
                assert typ == "OK", data
        finally:
            client.logout()

    def unseen(self, folder: str = "INBOX") -> list[int]:
        client = self.client()
        try:
            client.select(folder)
            typ, data = client.uid("search", None, "UNSEEN")  # type: ignore[arg-type]
            assert typ == "OK"
            return [int(x) for x in data[0].split()]
        finally:
            client.logout()

    def stop(self) -> None:
        self.process.terminate()
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.process.wait(10)
        if self.process.poll() is None:
            self.process.kill()
        shutil.rmtree(self.root, ignore_errors=True)


def start(certificates: Certificates | None = None) -> Dovecot:
    # Under /tmp with open permissions: the mail processes run as an unprivileged user, and pytest's
    # own tmp_path is private to root.
    root = Path(tempfile.mkdtemp(prefix="mdg-dovecot-"))
    root.chmod(0o755)
    for sub in ("run", "state", "mail"):
        (root / sub).mkdir()
    port = _free_port()
    tls_port = _free_port() if certificates else None
    ssl = f"yes\nssl_cert = <{certificates.cert}\nssl_key = <{certificates.key}" if certificates else "no"
    if os.geteuid() == 0:
        mail_user, login_user = "dovecot", "dovenull"
        owner = pwd.getpwnam(mail_user)
        os.chown(root / "mail", owner.pw_uid, owner.pw_gid)
    else:
        mail_user = login_user = pwd.getpwuid(os.geteuid()).pw_name
    (root / "passwd").write_text(f"{USER}:{{PLAIN}}{PASSWORD}\n")
    (root / "dovecot.conf").write_text(f"""
protocols = imap
listen = 127.0.0.1
base_dir = {root}/run
state_dir = {root}/state
log_path = {root}/dovecot.log
ssl = {ssl}
disable_plaintext_auth = no
auth_mechanisms = plain login
mail_location = maildir:{root}/mail/%u
default_internal_user = {mail_user}
default_login_user = {login_user}
first_valid_uid = 1
first_valid_gid = 1
passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%u {root}/passwd
}}
userdb {{
  driver = static
  args = uid={mail_user} gid={mail_user} home={root}/mail/%u
}}
service imap-login {{
  chroot =
  inet_listener imap {{
    address = 127.0.0.1
    port = {port}
  }}
  inet_listener imaps {{
    address = 127.0.0.1
    port = {tls_port or 0}
  }}
}}
service anvil {{
  chroot =
}}
""")
    process = subprocess.Popen([DOVECOT, "-F", "-c", str(root / "dovecot.conf")], stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL)
    server = Dovecot(root=root, port=port, process=process, tls_port=tls_port)
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        if process.poll() is not None:
            log = (root / "dovecot.log").read_text() if (root / "dovecot.log").exists() else ""
            raise RuntimeError(f"dovecot exited: {log}")
        try:
            server.client().logout()
            return server
        except OSError:
            time.sleep(0.1)
    server.stop()
    raise RuntimeError("dovecot did not start")
