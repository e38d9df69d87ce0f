#!/usr/bin/env python3
"""gen_real_logs.py - a seeded generator of realistic labelled log lines.

Writes CSV `source,log_message,target_label` (stdlib only, deterministic for
a given --seed). Lines imitate the styles of public system logs: HDFS,
Hadoop, Spark, Zookeeper, OpenSSH, Apache, Linux syslog, Android, BGL,
Thunderbird, Windows CBS, HPC, Proxifier, OpenStack, Mac, HealthApp.

Each system has hand-written templates plus template *families*: one
template shape with a constant slot filled from a word list, so that many
labels differ by a single word ("Failed to start X service" vs "Failed to
stop X service"). Variables are of many kinds: integers, decimals, block
and container ids, hex, UUIDs, IPs with ports, host names, users, paths,
durations, sizes, PIDs. Every template is one label (`<System>-E<n>`).
Lines per label follow a long tail: most labels get fewer than 10 lines.

Usage:
  gen_real_logs.py --out build/real.csv [--seed 1] [--lines-per-system 2000]
                   [--labels-per-system 95] [--min-lines-per-label 1]
                   [--no-header] [--free-text] [--dateless] [--systems HDFS,...]
                   [--exclude HDFS,...] [--list-systems]
Nothing big is committed: tests and benches generate into build/.
"""
import argparse
import csv
import random
import sys

# ---- variables -------------------------------------------------------------

WORDS = ("alpha beta gamma delta omega kappa sigma orion vega lyra atlas hydra "
         "falcon raven cobalt ember frost harbor maple nova").split()
USERS = ("root admin guest test oracle postgres hdfs yarn spark ubuntu www-data "
         "alice bob carol dave erin frank mallory nagios backup ftp git").split()
SERVICES = ("sshd cron httpd nginx mysqld dockerd kubelet postfix dovecot named "
            "ntpd rsyslogd systemd-logind cupsd smbd nfsd").split()


def v_int(r): return str(r.randint(0, 99999))
def v_small(r): return str(r.randint(0, 64))
def v_pid(r): return str(r.randint(100, 65535))
def v_port(r): return str(r.choice([22, 80, 443, 8080, 50010, 9000, 2181, 3306]) if r.random() < .5 else r.randint(1024, 65535))
def v_ip(r): return "%d.%d.%d.%d" % (r.choice([10, 172, 192, 203]), r.randint(0, 255), r.randint(0, 255), r.randint(1, 254))
def v_ipport(r): return v_ip(r) + ":" + v_port(r)
def v_host(r): return r.choice(["node", "dn", "web", "db", "cn", "r", "worker", "mds"]) + str(r.randint(1, 999)) + r.choice(["", ".cluster.local", ".example.com", "-prod"])
def v_user(r): return r.choice(USERS)
def v_hex(r): return "0x%08x" % r.getrandbits(32)
def v_hex16(r): return "%016x" % r.getrandbits(64)
def v_uuid(r): return "%08x-%04x-%04x-%04x-%012x" % (r.getrandbits(32), r.getrandbits(16), r.getrandbits(16), r.getrandbits(16), r.getrandbits(48))
def v_blk(r): return "blk_%s%d" % (r.choice(["", "-"]), r.getrandbits(62))
def v_path(r): return "/" + "/".join(r.choice(["var", "usr", "tmp", "opt", "data", "home", "lib", "log", "hadoop", "spark", "etc", "srv", "cache"]) for _ in range(r.randint(2, 5))) + r.choice(["", ".log", ".conf", ".jar", ".dat", "/part-%05d" % r.randint(0, 999)])
def v_dur(r): return r.choice(["%dms" % r.randint(1, 9999), "%.3f s" % (r.random() * 60), "%d sec" % r.randint(1, 600), "%.2fs" % (r.random() * 10)])
def v_size(r): return r.choice(["%d" % r.randint(1, 1 << 27), "%.1f MB" % (r.random() * 1000), "%d bytes" % r.randint(1, 1 << 20), "%.2f KB" % (r.random() * 900)])
def v_dec(r): return "%.*f" % (r.randint(1, 4), r.random() * 1000)
def v_pct(r): return "%d%%" % r.randint(0, 100)
def v_word(r): return r.choice(WORDS)
def v_svc(r): return r.choice(SERVICES)
def v_app(r): return "application_%d_%04d" % (r.randint(1400000000000, 1500000000000), r.randint(1, 9999))
def v_cont(r): return "container_%d_%04d_01_%06d" % (r.randint(1400000000000, 1500000000000), r.randint(1, 999), r.randint(1, 999))
def v_task(r): return "attempt_%d_%04d_m_%06d_%d" % (r.randint(1400000000000, 1500000000000), r.randint(1, 99), r.randint(0, 9999), r.randint(0, 3))
def v_mac(r): return ":".join("%02x" % r.getrandbits(8) for _ in range(6))
def v_ver(r): return "%d.%d.%d" % (r.randint(0, 9), r.randint(0, 20), r.randint(0, 99))
def v_url(r): return "http://" + v_host(r) + ":" + v_port(r) + v_path(r)
def v_sess(r): return str(r.randint(1, 40000))
def v_core(r): return "core.%d" % r.randint(0, 9999)
def v_node(r): return "R%02d-M%d-N%d-C:J%02d-U%02d" % (r.randint(0, 77), r.randint(0, 1), r.randint(0, 15), r.randint(2, 17), r.choice([1, 11]))
def v_email(r): return "%s@%s" % (v_user(r), r.choice(["example.com", "corp.local", "mail.org"]))
def v_kb(r): return "KB%d" % r.randint(100000, 999999)
def v_sid(r): return "S-1-5-21-%d-%d-%d-%d" % (r.getrandbits(30), r.getrandbits(30), r.getrandbits(30), r.randint(500, 5000))
def v_tid(r): return str(r.randint(1, 9999))
def v_state(r): return r.choice(["true", "false"])


# free text (--free-text): 1-6 words from a 400-word vocabulary of made-up
# words, as an exception message, a file or service name or a user's input
# spans a variable number of tokens in real logs
_FT = random.Random("free-text")
FREE_WORDS = sorted({"".join(_FT.choice(["ka", "lo", "mi", "ne", "ru", "ta", "vo", "shi", "pe", "do", "gri", "zu", "fa", "bel", "tor", "an", "es"]) for _ in range(_FT.randint(2, 4))) for _ in range(600)})[:400]
def v_text(r): return " ".join(r.choice(FREE_WORDS) for _ in range(r.randint(1, 6)))

VARS = {k[2:]: v for k, v in globals().items() if k.startswith("v_")}

# ---- headers (per system style) ---------------------------------------------

MON = "Jan Feb Mar Apr May Jun Jul Aug Sep Oct Nov Dec".split()


def hms(r): return "%02d:%02d:%02d" % (r.randint(0, 23), r.randint(0, 59), r.randint(0, 59))
def syslog_ts(r): return "%s %2d %s" % (r.choice(MON), r.randint(1, 28), hms(r))


SPARK_COMP = ["executor.Executor", "storage.BlockManager", "spark.SecurityManager",
              "scheduler.TaskSetManager", "storage.MemoryStore", "util.Utils"]
# --dateless: headers with no date or time, drawing the same random values
DATELESS = {
    # a console appender's "[%p] [%c] %m"
    "Spark": lambda r, lvl: "[%s] [%s]" % (lambda d, t, c: (lvl, c))(r.randint(1, 30), hms(r), r.choice(SPARK_COMP)),
}

HEADERS = {
    "HDFS": lambda r, lvl: "081109 %06d %d %s dfs.%s:" % (r.randint(0, 235959), r.randint(1, 30000), lvl, r.choice(["DataNode", "FSNamesystem", "DataNode$PacketResponder", "DataNode$DataXceiver", "FSDataset"])),
    "Hadoop": lambda r, lvl: "2015-10-18 %s,%03d %s [%s] org.apache.hadoop.%s:" % (hms(r), r.randint(0, 999), lvl, r.choice(["main", "AsyncDispatcher event handler", "IPC Server handler %d on 62270" % r.randint(0, 9), "RMCommunicator Allocator"]), r.choice(["mapreduce.v2.app.MRAppMaster", "yarn.event.AsyncDispatcher", "ipc.Server", "mapred.TaskAttemptListenerImpl", "hdfs.DFSClient"])),
    "Spark": lambda r, lvl: "17/06/%02d %s %s %s:" % (r.randint(1, 30), hms(r), lvl, r.choice(SPARK_COMP)),
    "Zookeeper": lambda r, lvl: "2015-07-29 %s,%03d - %s  [%s:%s@%d] -" % (hms(r), r.randint(0, 999), lvl, r.choice(["QuorumPeer[myid=1]/0:0:0:0:0:0:0:0:2181", "NIOServerCxn.Factory:0.0.0.0/0.0.0.0:2181", "SyncThread:1", "CommitProcessor:1"]), r.choice(["QuorumCnxManager", "NIOServerCnxn", "Learner", "ZooKeeperServer", "FileTxnLog"]), r.randint(50, 900)),
    "OpenSSH": lambda r, lvl: "%s LabSZ sshd[%d]:" % (syslog_ts(r), r.randint(1000, 30000)),
    "Apache": lambda r, lvl: "[%s %s %02d %s 2005] [%s]" % (r.choice(["Sun", "Mon", "Tue"]), r.choice(MON), r.randint(1, 28), hms(r), lvl.lower()),
    "Linux": lambda r, lvl: "%s combo %s:" % (syslog_ts(r), r.choice(["kernel", "sshd(pam_unix)[%d]" % r.randint(1000, 30000), "su(pam_unix)[%d]" % r.randint(1000, 30000), "ftpd[%d]" % r.randint(1000, 30000), "syslogd 1.4.1", "cups", "gdm(pam_unix)[%d]" % r.randint(1000, 9000)])),
    "Android": lambda r, lvl: "03-17 %s.%03d  %d  %d %s %s:" % (hms(r), r.randint(0, 999), r.randint(1000, 3000), r.randint(1000, 30000), lvl[0], r.choice(["PowerManagerService", "WindowManager", "ActivityManager", "DisplayPowerController", "PhoneStatusBar", "SendBroadcastPermission"])),
    "BGL": lambda r, lvl: "- %d 2005.06.%02d %s 2005-06-%02d-%s.%06d %s RAS %s %s" % (r.randint(1117838570, 1136390405), r.randint(1, 30), v_node(r), r.randint(1, 30), hms(r).replace(":", "."), r.randint(0, 999999), v_node(r), r.choice(["KERNEL", "APP", "MMCS", "LINKCARD", "DISCOVERY"]), {"INFO": "INFO", "WARN": "WARNING", "ERROR": "FATAL"}.get(lvl, "INFO")),
    "Thunderbird": lambda r, lvl: "- %d 2005.11.%02d %s %s %s/%s %s:" % (r.randint(1131566461, 1131666461), r.randint(1, 30), "an%d" % r.randint(1, 999), syslog_ts(r), "an%d" % r.randint(1, 999), "an%d" % r.randint(1, 999), r.choice(["kernel", "ntpd[%d]" % r.randint(1000, 9999), "crond(pam_unix)[%d]" % r.randint(1000, 30000), "dhcpd", "xinetd[%d]" % r.randint(1000, 9999)])),
    # CBS.log pads the level to 22 columns and the component to 7
    "Windows": lambda r, lvl: "2016-09-28 %s, %-22s%-6s" % (hms(r), {"INFO": "Info", "WARN": "Warning", "ERROR": "Error"}.get(lvl, "Info"), r.choice(["CBS", "CSI", "WindowsUpdateAgent", "TrustedInstaller"])),
    # LogId Node Component State Time Flag: no date, an epoch time
    "HPC": lambda r, lvl: "%d %s %s %s %d 1" % (lambda i, nd, c, t, st: (i, nd, c, st, t))(r.randint(100000, 500000), r.choice(["node-%d" % r.randint(0, 255), "gige%d" % r.randint(0, 40)]), r.choice(["unix.hw", "boot_cmd", "action", "switch_module"]), r.randint(1077804742, 1145000000), r.choice(["state_change.unavailable", "new", "error", "link"])),
    "Proxifier": lambda r, lvl: "[10.30 %s] %s -" % (hms(r), r.choice(["chrome.exe", "firefox.exe", "Dropbox.exe", "svchost.exe", "WeChat.exe", "putty.exe"])),
    "OpenStack": lambda r, lvl: "nova-%s.log.1.2017-05-16_13:55:31 2017-05-16 %s.%03d %d %s nova.%s [req-%s - - - - -]" % (r.choice(["api", "compute", "scheduler"]), hms(r), r.randint(0, 999), r.randint(1000, 30000), lvl, r.choice(["osapi_compute.wsgi.server", "compute.manager", "virt.libvirt.driver", "scheduler.host_manager", "metadata.wsgi.server"]), v_uuid(r)),
    "Mac": lambda r, lvl: "%s calvisitor-10-105-160-95 %s[%d]:" % (syslog_ts(r), r.choice(["kernel", "com.apple.CDScheduler", "QQ", "Microsoft Word", "corecaptured", "sharingd", "WindowServer", "mDNSResponder"]), r.randint(30, 40000)),
    "HealthApp": lambda r, lvl: "20171223-%d:%d:%d:%d|%s|%d|" % (r.randint(0, 23), r.randint(0, 59), r.randint(0, 59), r.randint(0, 999), r.choice(["Step_LSC", "Step_SPUtils", "Step_StandReportReceiver", "HiH_HiHealthDataInsertStore", "Step_ExtSDM", "HiH_HiSyncControl"]), r.randint(30000000, 30009999)),
}

# ---- templates ----------------------------------------------------------------
# {kind} is a variable (VARS); (a|b|c) is a constant slot: a family whose
# members are separate labels.

T = {
"HDFS": """
Receiving block {blk} src: /{ipport} dest: /{ipport}
Received block {blk} of size {int} from /{ip}
PacketResponder {small} for block {blk} terminating
BLOCK* NameSystem.addStoredBlock: blockMap updated: {ipport} is added to {blk} size {int}
BLOCK* NameSystem.allocateBlock: {path}. {blk}
Verification succeeded for {blk}
Deleting block {blk} file {path}
BLOCK* NameSystem.delete: {blk} is added to invalidSet of {ipport}
BLOCK* ask {ipport} to replicate {blk} to datanode(s) {ipport}
{ipport}:Got exception while serving {blk} to /{ip}:
{ipport}:Transmitted block {blk} to /{ipport}
Exception in receiveBlock for block {blk} java.io.IOException: Connection reset by peer
writeBlock {blk} received exception java.io.(EOFException|InterruptedIOException|IOException)
PacketResponder {blk} {small} Exception java.io.(EOFException|InterruptedIOException|IOException)
BLOCK* Removing block {blk} from neededReplications as it does not belong to any file.
Unexpected error trying to (delete|read|write) block {blk}. BlockInfo not found in volumeMap.
BLOCK* NameSystem.addStoredBlock: Redundant addStoredBlock request received for {blk} on {ipport} size {int}
Starting thread to transfer block {blk} to {ipport}
(Reopen|Close|Recover) Block for append {blk}
""",
"Hadoop": """
Created MRAppMaster for application {app}
Executing with tokens:
Kind: YARN_AM_RM_TOKEN, Service: , Ident: (appAttemptId {{ application_id {{ id: {small} cluster_timestamp: {int} }} attemptId: {small} }} keyId: {int})
Using mapred newApiCommitter.
OutputCommitter set in config null
Event Writer setup for JobId: job_{int}_{small}, File: hdfs://{host}:{port}{path}
Default file system [hdfs://{host}:{port}]
Emitting job history data to the timeline server is not enabled
{task} TaskAttempt Transitioned from (NEW|UNASSIGNED|ASSIGNED|RUNNING|SUCCEEDED|FAIL_CONTAINER_CLEANUP|KILLED) to (UNASSIGNED|ASSIGNED|RUNNING|SUCCEEDED|FAILED|KILLED)
task_{int}_{small}_m_{int} Task Transitioned from (NEW|SCHEDULED|RUNNING) to (SCHEDULED|RUNNING|SUCCEEDED)
Progress of TaskAttempt {task} is : {dec}
Address change detected. Old: {host}/{ipport} New: {host}:{port}
Retrying connect to server: {host}/{ipport}. Already tried {small} time(s); maxRetries=45
ERROR IN CONTACTING RM.
Processing the event EventType: (CONTAINER_REMOTE_LAUNCH|CONTAINER_REMOTE_CLEANUP|TASK_ABORT) for container {cont} taskAttempt {task}
Assigned container {cont} to {task}
Diagnostics report from {task}: Error: java.net.(NoRouteToHostException|ConnectException|SocketTimeoutException): No Route to Host from {host} to {host}:{port} failed
Num completed Tasks: {small}
Recalculating schedule, headroom=<memory:{int}, vCores:{small}>
Reduce slow start threshold (not met|reached). completedMapsForReduceSlowstart {small}
""",
"Spark": """
Registered signal handlers for [TERM, HUP, INT]
Changing (view|modify) acls to: {user}
SecurityManager: authentication disabled; ui acls disabled; users with (view|modify) permissions: Set({user})
Successfully started service 'sparkExecutorActorSystem' on port {port}.
Started reading broadcast variable {small}
Block broadcast_{small}_piece0 stored as bytes in memory (estimated size {size}, free {size})
Reading broadcast variable {small} took {dur}
Block broadcast_{small} stored as values in memory (estimated size {size}, free {size})
Found block rdd_{small}_{small} (locally|remotely)
Running task {dec} in stage {dec} (TID {tid})
Finished task {dec} in stage {dec} (TID {tid}). {int} bytes result sent to driver
Got assigned task {tid}
Partition rdd_{small}_{small} not found, computing it
Input split: hdfs://{host}:{port}{path}:{int}+{int}
MemoryStore started with capacity {size}
Connecting to driver: spark://CoarseGrainedScheduler@{ipport}
Removed broadcast_{small}_piece0 on {ipport} in memory (size: {size}, free: {size})
Error sending result RpcResponse{{requestId={int}, body=NioManagedBuffer}} to /{ipport}; closing connection
(Driver|Executor) commanded a shutdown
Lost executor {small} on {host}: (Container killed by YARN for exceeding memory limits|Remote RPC client disassociated|Executor heartbeat timed out)
""",
"Zookeeper": """
Accepted socket connection from /{ipport}
Client attempting to establish new session at /{ipport}
Established session {hex} with negotiated timeout {int} for client /{ipport}
Closed socket connection for client /{ipport} which had sessionid {hex}
Closed socket connection for client /{ipport} (no session established for client)
caught end of stream exception
Expiring session {hex}, timeout of {int}ms exceeded
Processed session termination for sessionid: {hex}
Connection broken for id {small}, my id = {small}, error =
Interrupting SendWorker
Send worker leaving thread
Notification time out: {int}
Cannot open channel to {small} at election address /{ipport}
Received connection request /{ipport}
Notification: {small} (n.leader), {hex} (n.zxid), {small} (n.round), (LOOKING|FOLLOWING|LEADING) (n.state), {small} (n.sid), {hex} (n.peerEPoch), (LOOKING|FOLLOWING|LEADING) (my state)
(FOLLOWING|LEADING|LOOKING) - (LEADER ELECTION TOOK|SYNC TOOK) - {int}
Getting a snapshot from leader
Snapshotting: {hex} to {path}
Got user-level KeeperException when processing sessionid:{hex} type:(create|delete|setData) cxid:{hex} zxid:{hex} txntype:-1 reqpath:n/a Error Path:{path} Error:KeeperErrorCode = (NodeExists|NoNode|BadVersion) for {path}
""",
"OpenSSH": """
Failed password for {user} from {ip} port {port} ssh2
Failed password for invalid user {user} from {ip} port {port} ssh2
Accepted password for {user} from {ip} port {port} ssh2
Accepted publickey for {user} from {ip} port {port} ssh2: RSA SHA256:{hex16}
Invalid user {user} from {ip}
input_userauth_request: invalid user {user} [preauth]
Connection closed by {ip} [preauth]
Received disconnect from {ip}: 11: Bye Bye [preauth]
Received disconnect from {ip}: 3: com.jcraft.jsch.JSchException: Auth fail [preauth]
pam_unix(sshd:auth): authentication failure; logname= uid=0 euid=0 tty=ssh ruser= rhost={ip}  user={user}
pam_unix(sshd:auth): authentication failure; logname= uid=0 euid=0 tty=ssh ruser= rhost={ip}
pam_unix(sshd:auth): check pass; user unknown
pam_unix(sshd:session): session (opened|closed) for user {user} by (uid=0)
PAM {small} more authentication failures; logname= uid=0 euid=0 tty=ssh ruser= rhost={ip}  user={user}
Disconnecting: Too many authentication failures for {user} [preauth]
message repeated {small} times: [ Failed password for {user} from {ip} port {port} ssh2]
reverse mapping checking getaddrinfo for {host} [{ip}] failed - POSSIBLE BREAK-IN ATTEMPT!
Did not receive identification string from {ip}
error: Received disconnect from {ip}: 13: User request [preauth]
fatal: Read from socket failed: Connection reset by peer [preauth]
Bad protocol version identification '{word}' from {ip} port {port}
""",
"Apache": """
jk2_init() Found child {pid} in scoreboard slot {small}
workerEnv.init() ok {path}
mod_jk child workerEnv in error state {small}
[client {ip}] Directory index forbidden by rule: {path}
[client {ip}] File does not exist: {path}
[client {ip}] client sent HTTP/1.1 request without hostname (see RFC2616 section 14.23): {path}
jk2_init() Can't find child {pid} in scoreboard
mod_jk child init {small} -2
env.createBean2(): Factory error creating (channel.jni|vm|worker.jni):(jni|onStartup|onShutdown) ( (channel.jni|vm|worker.jni), (jni|onStartup|onShutdown))
config.update(): Can't create (channel.jni|vm|worker.jni):(jni|onStartup|onShutdown)
Apache/2.0.49 (Fedora) configured -- resuming normal operations
caught SIGTERM, shutting down
Digest: generating secret for digest authentication ...
Digest: done
[client {ip}] script not found or unable to stat: {path}
[client {ip}] request failed: error reading the headers
[client {ip}] (Invalid method in request|Premature end of script headers) {word}
""",
"Linux": """
authentication failure; logname= uid=0 euid=0 tty=NODEVssh ruser= rhost={host}
authentication failure; logname= uid=0 euid=0 tty=NODEVssh ruser= rhost={host}  user={user}
session (opened|closed) for user {user} by (uid=0)
check pass; user unknown
connection from {ip} ({host}) at {word} {word} {small} {int} 2005
ANONYMOUS FTP LOGIN FROM {ip}, (anonymous)
Authentication failed from {ip} ({host}) for user {user}
klogind[{pid}]: Kerberos authentication failed
audit({dec}:{int}): avc:  denied  {{ (read|write|getattr|search) }} for  pid={pid} comm="{word}" name="{word}" dev={word} ino={int} scontext={user}:system_r:{word}_t tcontext={user}:object_r:{word}_t tclass=(file|dir|sock_file)
Out of Memory: Killed process {pid} ({word}).
(Kernel command line|Linux version|BIOS-provided physical RAM map|Detected {int}.{small} MHz processor)
{word}: link (up|down), {small}Mbps, full-duplex, lpa {hex}
syslogd startup succeeded
klogd startup succeeded
(irqbalance|portmap|nfslock|rpcidmapd|pcmcia|xinetd|sendmail|spamassassin|gpm|crond|xfs|anacron|atd|readahead|messagebus|cups|hcid|sdpd|smartd|acpid|apmd) startup succeeded
(irqbalance|portmap|nfslock|rpcidmapd|pcmcia|xinetd|sendmail|spamassassin|gpm|crond|xfs|anacron|atd|readahead|messagebus|cups|hcid|sdpd|smartd|acpid|apmd) shutdown succeeded
user {user} logged in on /dev/tty{small}
""",
"Android": """
acquire lock={int}, flags={hex}, tag="{word}", name={word}, ws=WorkSource{{{int}}}, uid={int}, pid={pid}
release:lock={int}, flg={hex}, tag="{word}", name={word}, ws=WorkSource{{{int}}}, uid={int}, pid={pid}
Skipping AppWindowToken{{{hex} token=Token{{{hex} ActivityRecord{{{hex} u0 com.tencent.qt.qtl/.activity.info.NewsDetailXinYueActivity t{small}}}}}}} -- going to hide
printFreezingDisplayLogsopening app wtoken = AppWindowToken{{{hex} token=Token{{{hex}}}}}, allDrawn= false, startingDisplayed =  false, startingMoved =  false, isRelaunching =  false
Bringing down service while still waiting for start foreground: ServiceRecord{{{hex} u0 com.{word}.{word}/.{word}Service}}
Start proc {pid}:com.{word}.{word}/u0a{small} for service com.{word}.{word}/.{word}Service
(Screen on|Screen off|Wakeup|Sleep) reason: {word}
updateIsPoweredLocked: wasPowered={state}, mIsPowered={state}, mPlugType={small}
setLightsOn(true) - already on
interceptKeyBeforeQueueing: key {int}, screenOn: {state}
Animating brightness: target={small}, rate={dec}
visible is {state}
getRunningAppProcesses: caller {int} does not hold REAL_GET_TASKS; limiting output
(Killing|Force stopping|Scheduling restart of crashed service) {pid}:com.{word}.{word}/u0a{small} (adj {small}): {word}
""",
"BGL": """
instruction cache parity error corrected
data TLB error interrupt
generating {core}
{int} double-hummer alignment exceptions
CE sym {small}, at {hex}, mask {hex}
total of {small} ddr error(s) detected and corrected
ciod: failed to read message prefix on control stream (CioStream socket to {ipport}
ciod: Error loading {path}: invalid or missing program image, No such file or directory
ciod: LOGIN chdir({path}) failed: No such file or directory
rts: kernel terminated for reason {int}
machine check interrupt (bit={hex}): L2 dcache unit data parity error
data storage interrupt
program interrupt: (illegal instruction|privileged instruction|trap instruction|fp unavailable)
(floating point|alignment|instruction storage|auxiliary processor) exception
idoproxydb hit ASSERT condition: ASSERT expression={small} Source file=idotransportmgr.cpp Source line={int} Function=int IdoTransportMgr::SendPacket(IdoUdpMgr*, BglCtlPavTrace*)
Lustre mount FAILED : {host} : block_id : location
MidplaneSwitchController performing bit sparing on {node} bit {small}
NodeCard is not fully functional
""",
"Thunderbird": """
synchronized to {ip}, stratum {small}
kernel time sync (enabled|disabled) {small}
session (opened|closed) for user {user} by (uid=0)
DHCPDISCOVER from {mac} via eth{small}
DHCPOFFER on {ip} to {mac} via eth{small}
DHCPREQUEST for {ip} ({ip}) from {mac} via eth{small}
DHCPACK on {ip} to {mac} via eth{small}
(Ignoring|Rejecting) request from unknown client {mac}
{host} NOTICE PWR2[Jobs{small}]: (Power supply|Fan|Voltage|Temperature) {word} (OK|FAILED|WARNING)
martian source {ip} from {ip}, on dev eth{small}
ib_sm.x[{pid}]: [ib_sm_sweep.c:{int}]: No topology change
ib_sm.x[{pid}]: [ib_sm_discovery.c:{int}]: (discovery completed|sweep started|sweep completed)
imps2: (Intellimouse|Generic PS/2|ImExPS/2) mouse detected
EXT3-fs error (device {word}): ext3_find_entry: reading directory #{int} offset {small}
""",
"Windows": """
Loaded Servicing Stack v{ver} with Core: C:\\Windows\\winsxs\\amd64_microsoft-windows-servicingstack_31bf3856ad364e35_{ver}_none_{hex16}\\cbscore.dll
Ending TrustedInstaller initialization.
Starting the TrustedInstaller main loop.
TrustedInstaller service starts successfully.
SQM: Initializing online with Windows opt-in: (False|True)
SQM: Cleaning up report files older than {small} days.
SQM: Requesting upload of all unsent reports.
SQM: Failed to start upload with file pattern: C:\\Windows\\servicing\\sqm\\*_std.sqm, flags: {hex} [HRESULT = {hex} - E_FAIL]
Session: {int}_{int} initialized by client (WindowsUpdateAgent|DISM Package Manager Provider|SPP).
Read out cached package applicability for package: Package_for_{kb}~31bf3856ad364e35~amd64~~{ver}, ApplicableState: {small}, CurrentState:{small}
Warning: Unrecognized packageExtended attribute.
Expecting attribute name [HRESULT = {hex} - CBS_E_MANIFEST_INVALID_ITEM]
Failed to get next element [HRESULT = {hex} - CBS_E_MANIFEST_INVALID_ITEM]
(Unloading|Loading) offline registry hive: {word}, into registry key '{{bf1a281b-ad7b-4476-ac95-f47682990ce7}}C:/Windows/System32/config/{word}'.
Startup processing thread terminated normally
Doqe: Recording result for package: Package_for_{kb}~31bf3856ad364e35~amd64~~{ver}, result: {hex}
""",
"HPC": """
Component State Change: Component {word} is in the unavailable state (HWID={int})
ClusterFileSystem: There is no server for ServerFileSystem domain {word}
Temperature ({int}C) exceeds warning threshold
Fan speeds ( {int} {int} {int} {int} {int} {int} )
Link (error|in reset|down|up) on (broadcast|node-to-node|management) tree Interconnect-{small}:{small}
PSU status ( (on|off) (on|off) )
(boot|halt|reboot) (command {int}) (Error: can't connect to host|Aborted|Success)
running running
configured out
inconsistent nodesets node-{small} {hex} <ok> node-{small} {hex} <ok>
risBoot command Error: can't connect to host
ServerFileSystem domain {word} is full
""",
"Proxifier": """
{host}:{port} close, {int} bytes sent, {int} bytes received, lifetime {dur}
{host}:{port} open through proxy proxy.cse.cuhk.edu.hk:5070 HTTPS
{host}:{port} error : Could not connect through proxy proxy.cse.cuhk.edu.hk:5070 - Proxy server cannot establish a connection with the target, status code {small}
{host}:{port} close, {int} bytes ({size}) sent, {int} bytes ({size}) received, lifetime {dur}
{host}:{port} error : A connection request was canceled before the completion.
{host}:{port} open directly
{host}:{port} error : Could not connect to proxy proxy.cse.cuhk.edu.hk:5070 - (connection attempt failed with error {int}|cannot resolve name)
""",
"OpenStack": """
{ip} "GET /v2/{uuid}/servers/detail HTTP/1.1" status: {small}0 len: {int} time: {dec}
{ip} "POST /v2/{uuid}/os-server-external-events HTTP/1.1" status: {small}0 len: {int} time: {dec}
{ip} "GET /openstack/2013-10-17/meta_data.json HTTP/1.1" status: 200 len: {int} time: {dec}
[instance: {uuid}] VM (Started|Stopped|Paused|Resumed) (Lifecycle Event)
[instance: {uuid}] During sync_power_state the instance has a pending task (spawning|deleting). Skip.
[instance: {uuid}] Took {dec} seconds to (spawn|build|destroy|deallocate network for) (the instance on the hypervisor|instance)
[instance: {uuid}] Attempting claim: memory {int} MB, disk {small} GB, vcpus {small} CPU
[instance: {uuid}] Total (memory|disk|vcpu): {int} (MB|GB|VCPU), used: {dec} (MB|GB|VCPU)
[instance: {uuid}] (memory|disk|vcpu) limit: {dec} (MB|GB|VCPU), free: {dec} (MB|GB|VCPU)
[instance: {uuid}] Claim successful
[instance: {uuid}] Creating image
[instance: {uuid}] Terminating instance
[instance: {uuid}] Deleting instance files {path}
[instance: {uuid}] Deletion of {path} complete
Compute_service record updated for {host}:{host}
Successfully synced instances from host '{host}'.
The instance sync for host '{host}' did not match. Re-created its InstanceList.
Unknown base file: {path}
Active base files: {path}
Removable base files: {path}
Base or swap file too young to remove: {path}
""",
"Mac": """
ARPT: {dec}: wl0: setup_keepalive: Local IP: {ip}
ARPT: {dec}: wl0: MDNS: IPV4 Addr: {ip}
AirPort: Link (Up|Down) on (en0|awdl0)
en0: (BSSID changed to {mac}|channel changed to {small})
Wake reason: ?
{word}: {word} entry point: {hex}
PM response took {int} ms (54, {word})
Setting BTCoex Config: enable_2G:{small}, profile_2g:0, enable_5G:{small}, profile_5G:0
CCFile::captureLog Received Capture notice id: {dec}, reason = (AuthFail|AssocFail|DeauthInd):sts:{small}:rsn:{small}
 IOPMPowerSource Information: onSleep, SleepType: Normal Sleep, 'ExternalConnected': No, 'TimeRemaining': {int},
Unable to bootstrap_look_up com.apple.{word}: Unknown service name
-[NETClientConnection evaluateCrazyIvan46] CI46 - Perform CrazyIvan46! CrazyIvan46 is (enabled|disabled)
ASL Sender Statistics
Calendar: (Scheduling|Running|Finished) task {word}
""",
"HealthApp": """
onStandStepChanged {int}
onExtend:{int} {small} {small} {small}
REPORT : {int} {int} {int} {int}
flush sensor data
getTodayTotalDetailSteps = {int}##{int}##{int}##{int}##{int}##{int}
processHandleBroadcastAction action:android.intent.action.(SCREEN_ON|SCREEN_OFF|TIME_TICK|USER_PRESENT)
setTodayTotalDetailSteps={int}##{int}##{int}##{int}##{int}##{int}
onReceive action: android.intent.action.(SCREEN_ON|SCREEN_OFF|TIME_TICK|USER_PRESENT)
upLoadOneMinuteDataToEngine time={int},step={int},type={small}
insertHiHealthData() bulkSaveDetailHiHealthData fail errorCode = {small},errorMessage = ERR_(DATA_INSERT|DATA_READ|NETWORK)
calculateCaloriesWithCache totalCalories={int}
checkCurrentDay a new day comes , reset basic step data
"""}

# families that give every system many labels differing in one word: a
# system's own templates with a qualifier naming one of its components
# (" in datanode" vs " in namenode"), in that system's own style
SUFFIX = [" in {obj}", " [{obj}]", " ({obj})", " for {obj}"]
OBJ = {s: o.split() for s, o in {
    "HDFS": "datanode namenode balancer journal fsimage editlog replicator scanner",
    "Hadoop": "resourcemanager nodemanager jobhistory shuffle committer speculator scheduler allocator",
    "Spark": "driver executor blockmanager shuffleservice broadcast dagscheduler listenerbus taskscheduler",
    "Zookeeper": "quorum leader follower observer snapshot txnlog election watcher",
    "OpenSSH": "privsep kex agent forwarding tunnel sftp subsystem hostkey",
    "Apache": "mod_jk mod_ssl mod_proxy mod_rewrite worker vhost scoreboard mpm",
    "Linux": "udev nfs autofs ipsec firewall lvm raid swap",
    "Android": "wakelock surfaceflinger audioflinger telephony bluetooth wifi location sensor",
    "BGL": "ciod mmcs idoproxy linkcard nodecard servicecard midplane torus",
    "Thunderbird": "pbs_mom ib_sm dhcpd ntpd lustre gmond syslog-ng portmap",
    "Windows": "cbs csi wuauserv trustedinstaller sqm dism msiserver bits",
    "HPC": "psu fan clusterfs nodeset interconnect bootcmd switch console",
    "Proxifier": "proxy resolver chain rule tunnel socks https direct",
    "OpenStack": "nova-api nova-compute scheduler conductor placement neutron glance libvirt",
    "Mac": "airport bluetoothd powerd coreduetd sharingd mdnsresponder kextd windowserver",
    "HealthApp": "stepcounter sensorhub syncengine reportreceiver healthstore calorie lsc extsdm",
}.items()}

LEVELS = ["INFO", "INFO", "INFO", "WARN", "ERROR"]


def expand(tpl):
    """All constant-slot combinations of a template: [(text, n_slots)]."""
    out = [""]
    i = 0
    while i < len(tpl):
        j = tpl.find(")", i)
        if tpl[i] == "(" and j > i and "|" in tpl[i:j] and "(" not in tpl[i + 1:j]:
            opts = tpl[i + 1:j].split("|")
            out = [o + x for o in out for x in opts]
            i = j + 1
        else:
            out = [o + tpl[i] for o in out]
            i += 1
    return out


def system_templates(sysname, r, target):
    base = [t for t in T[sysname].strip("\n").split("\n") if t.strip()]
    tpls = []
    for t in base:
        tpls.extend(expand(t))
    fam = []
    for t in tpls:
        suf = r.choice(SUFFIX)
        for obj in OBJ[sysname]:
            fam.append(t + suf.replace("{obj}", obj))
    r.shuffle(fam)
    need = max(0, target - len(tpls))
    tpls.extend(fam[:need])
    seen, uniq = set(), []
    for t in tpls:
        if t not in seen:
            seen.add(t)
            uniq.append(t)
    return uniq[:max(target, 1)] if len(uniq) > target else uniq


def fill(tpl, r):
    out, i = [], 0
    while i < len(tpl):
        c = tpl[i]
        if c == "{" and i + 1 < len(tpl) and tpl[i + 1] == "{":
            out.append("{"); i += 2; continue
        if c == "}" and i + 1 < len(tpl) and tpl[i + 1] == "}":
            out.append("}"); i += 2; continue
        if c == "{":
            j = tpl.index("}", i)
            out.append(VARS[tpl[i + 1:j]](r))
            i = j + 1
            continue
        out.append(c)
        i += 1
    return "".join(out)


def long_tail_counts(n_labels, n_lines, r, min_lines=1):
    """Lines per label: a few heavy labels, most with fewer than 10 lines;
    none with fewer than min_lines (when the lines allow it)."""
    w = [1.0 / (k + 1) ** 1.15 for k in range(n_labels)]
    r.shuffle(w)
    tot = sum(w)
    floor = max(1, min(min_lines, n_lines // max(n_labels, 1)))
    counts = [max(floor, int(n_lines * x / tot)) for x in w]
    # the sum drifts from n_lines by rounding: fix on the heaviest labels
    if n_lines < n_labels:  # fewer lines than labels: one line each, for the first
        return [1 if k < n_lines else 0 for k in range(n_labels)]
    diff = n_lines - sum(counts)
    order = sorted(range(n_labels), key=lambda k: -counts[k])
    k = 0
    while diff != 0 and n_labels:
        i = order[k % n_labels]
        if diff > 0:
            counts[i] += 1; diff -= 1
        elif counts[i] > floor:
            counts[i] -= 1; diff += 1
        k += 1
    return counts


def with_free_text(t, sysname):
    """One template in 4 (fixed per template) gets a free-text variable
    after one of its words (also fixed per template); the others as they
    are."""
    rt = random.Random("%s/free/%s" % (sysname, t))
    if rt.random() >= 0.25:
        return t
    cuts = [i for i, c in enumerate(t) if c == " " and t[:i].count("{") == t[:i].count("}")]
    at = rt.choice(cuts) if cuts else len(t)
    return t[:at] + " {text}" + t[at:]


def generate(systems, lines_per_system, labels_per_system, seed, min_lines=1, header=True,
             free_text=False, dateless=False):
    """header=False: the message body only (what a parsed log's content
    column holds), drawn from the same random stream as with the header.
    free_text: a quarter of the templates get a free-text variable of 1-6
    words (the labels and their frequencies stay the same). dateless: the
    systems of DATELESS get their header with no date (the same bodies)."""
    rows = []
    for s in systems:
        # the templates, their label names and how often each occurs depend
        # on the system only, so files made with other seeds share the
        # taxonomy and its distribution; the lines depend on the seed
        tpls = system_templates(s, random.Random(s), labels_per_system)
        r = random.Random("%s/%d" % (s, seed))
        counts = long_tail_counts(len(tpls), lines_per_system, random.Random(s + "/counts"),
                                  min_lines)
        for k, (t, c) in enumerate(zip(tpls, counts)):
            label = "%s-E%d" % (s, k + 1)
            lvl = "ERROR" if any(w in t for w in ("Error", "error", "Failed", "fail", "Exception", "FATAL")) else random.Random(s + "/" + t).choice(LEVELS)
            for _ in range(c):  # c may be 0 (fewer lines than labels)
                head = (DATELESS if dateless and s in DATELESS else HEADERS)[s](r, lvl)  # drawn in every mode: same bodies
                body = fill(with_free_text(t, s) if free_text else t, r)
                rows.append((s, head + " " + body if header else body, label))
    random.Random(seed).shuffle(rows)
    return rows


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", default="-")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--lines-per-system", type=int, default=2000)
    ap.add_argument("--labels-per-system", type=int, default=95)
    ap.add_argument("--min-lines-per-label", type=int, default=1,
                    help="no label with fewer lines (1: the plain long tail, where a 50/50 "
                         "split leaves 1.8%% of held-out lines with a label not in "
                         "training; 8: 0.35%%, what a baseline at 0.996 implies)")
    ap.add_argument("--no-header", action="store_true",
                    help="the message body only, without the system's header (timestamp, "
                         "level, pid, component): the content column of a parsed log")
    ap.add_argument("--free-text", action="store_true",
                    help="a quarter of the templates get a variable of 1-6 free words (an "
                         "exception message, a name): lines of a label vary in length")
    ap.add_argument("--dateless", action="store_true",
                    help="Spark's header without a date: \"[INFO] [executor.Executor]\" "
                         "(HPC's has none in any mode: LogId Node Component State Time Flag)")
    ap.add_argument("--systems", default="")
    ap.add_argument("--exclude", default="")
    ap.add_argument("--list-systems", action="store_true")
    a = ap.parse_args()
    if a.list_systems:
        print("\n".join(T))
        return 0
    systems = [s for s in (a.systems.split(",") if a.systems else T) if s]
    bad = [s for s in systems if s not in T]
    if bad:
        sys.exit("unknown system(s): %s (see --list-systems)" % ", ".join(bad))
    ex = set(x for x in a.exclude.split(",") if x)
    systems = [s for s in systems if s not in ex]
    rows = generate(systems, a.lines_per_system, a.labels_per_system, a.seed,
                    a.min_lines_per_label, header=not a.no_header, free_text=a.free_text,
                    dateless=a.dateless)
    f = sys.stdout if a.out == "-" else open(a.out, "w", newline="")
    w = csv.writer(f, lineterminator="\n")
    w.writerow(["source", "log_message", "target_label"])
    w.writerows(rows)
    if f is not sys.stdout:
        f.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
