"""Generates realistic log lines from known templates, with ground truth,
for the template miner's tests and benchmark (tests/e2e/templates_accuracy.sh,
bench/bench_templates.sh). Standard library only; deterministic for a seed.

  gen_template_logs.py OUT.csv [--lines-per-system N] [--seed S]
                       [--systems a,b,...] [--plain OUT.txt] [--raw]

OUT.csv columns: system, log_message, event_id, event_template. Styles of
sixteen systems (HDFS, Hadoop, Spark, OpenSSH, Apache, Linux syslog, Android,
Windows CBS, BGL, Proxifier, Zookeeper, OpenStack, HealthApp, Mac,
Thunderbird, HPC-like), variables of every kind (integers,
floats, hex, IPs, IP:port, paths, UUIDs, durations, sizes, block and
container ids, user and host names without digits, states, URLs, MACs,
dates and times), pairs of templates that differ by one word, and
variables that span a variable number of tokens (free text, lists).
The ground-truth template writes each variable as one <*>, the loghub
convention. --raw prefixes each line with a raw log's header (date, time,
pid, a level and a component fixed per event), as in loghub's .log files
before their Content is cut out. Event frequencies are Zipf-like, as in real logs.
"""
import argparse, csv, random, re, string

R = random.Random(1)

USERS = ["root", "admin", "alice", "bob", "oracle", "postgres", "guest", "test", "nagios", "www", "ftpuser", "deploy",
         "jenkins", "mysql", "ubuntu", "pi", "support", "user", "operator", "backup"]
WORDS = ["alpha", "bravo", "charlie", "delta", "echo", "foxtrot", "golf", "hotel", "india", "juliet", "kilo", "lima",
         "mike", "november", "oscar", "papa", "quebec", "romeo", "sierra", "tango", "uniform", "victor", "whiskey"]
HOSTS_A = ["www", "mail", "api", "cdn", "static", "login", "accounts", "clients", "update", "proxy", "images", "docs"]
HOSTS_B = ["google", "example", "bing", "yahoo", "github", "mozilla", "apple", "microsoft", "akamai", "cloudflare"]
TLDS = ["com", "net", "org", "io", "edu"]
PROGRAMS = ["chrome.exe", "firefox.exe", "Skype.exe", "svchost.exe", "outlook.exe", "iexplore.exe", "Dropbox.exe",
            "Teams.exe", "java.exe", "git-remote-https.exe"]
STATES = ["NEW", "INITED", "RUNNING", "SUCCEEDED", "FAILED", "KILLED", "LOCALIZING", "LOCALIZED", "CLEANUP"]
APPS = ["com.android.phone", "com.android.systemui", "com.tencent.mm", "com.google.android.gms", "com.whatsapp",
        "com.facebook.katana", "com.huawei.health", "com.android.settings"]
PKGS = ["Microsoft-Windows-Foundation-Package", "Package_for_KB2919355", "Microsoft-Windows-Client-Features-Package",
        "Package_for_RollupFix", "Microsoft-Windows-IE-Package"]
EXC = ["java.io.IOException", "java.net.SocketTimeoutException", "java.lang.NullPointerException",
       "java.net.ConnectException", "java.lang.IllegalStateException"]


def rint(a=0, b=99999):
    return str(R.randint(a, b))


def ip():
    return ".".join(str(R.randint(1, 254)) for _ in range(4))


def hexs(n):
    return "".join(R.choice("0123456789abcdef") for _ in range(n))


def host():
    return "%s.%s.%s" % (R.choice(HOSTS_A), R.choice(HOSTS_B), R.choice(TLDS))


def path():
    segs = [R.choice(["usr", "var", "opt", "home", "tmp", "data", "srv", "etc"])]
    segs += [R.choice(WORDS + USERS) for _ in range(R.randint(1, 4))]
    return "/" + "/".join(segs) + R.choice(["", ".log", ".conf", ".jar", ".tmp"])


def duration():
    return R.choice([rint(1, 999) + "ms", rint(1, 59) + "s", "%.3fs" % R.random(), rint(1, 9000) + "us"])


def size():
    return R.choice([rint(1, 4096) + "KB", rint(1, 900) + "MB", "%.1fGB" % (R.random() * 50), rint(1, 99999) + "B"])


def words(lo=1, hi=4):
    return " ".join(R.choice(WORDS) for _ in range(R.randint(lo, hi)))


def uuid():
    return "%s-%s-%s-%s-%s" % (hexs(8), hexs(4), hexs(4), hexs(4), hexs(12))


VARS = {
    "int": lambda: rint(),
    "small": lambda: rint(0, 9),
    "neg": lambda: rint(-99999, 99999),
    "float": lambda: "%.2f" % (R.random() * 100),
    "hex": lambda: "0x" + hexs(8),
    "rawhex": lambda: hexs(16),
    "ip": ip,
    "ipport": lambda: "%s:%d" % (ip(), R.randint(1, 65535)),
    "port": lambda: rint(1, 65535),
    "path": path,
    "winpath": lambda: "C:\\Windows\\%s\\%s.dll" % (R.choice(["System32", "SysWOW64", "WinSxS"]), R.choice(WORDS)),
    "uuid": uuid,
    "dur": duration,
    "size": size,
    "blk": lambda: "blk_" + rint(-9 * 10 ** 18, 9 * 10 ** 18),
    "container": lambda: "container_%d_%04d_01_%06d" % (R.randint(10 ** 12, 10 ** 13), R.randint(1, 9999), R.randint(1, 999)),
    "attempt": lambda: "attempt_%d_%04d_m_%06d_0" % (R.randint(10 ** 12, 10 ** 13), R.randint(1, 999), R.randint(0, 99)),
    "user": lambda: R.choice(USERS),
    "host": host,
    "hostport": lambda: "%s:%d" % (host(), R.choice([80, 443, 8080, 5070])),
    "state": lambda: R.choice(STATES),
    "url": lambda: "http://%s/%s?id=%s" % (host(), R.choice(WORDS), rint()),
    "mac": lambda: ":".join(hexs(2) for _ in range(6)),
    "time": lambda: "%02d:%02d:%02d" % (R.randint(0, 23), R.randint(0, 59), R.randint(0, 59)),
    "date": lambda: "2024-%02d-%02d" % (R.randint(1, 12), R.randint(1, 28)),
    "words": lambda: words(1, 4),
    "list": lambda: ", ".join(R.choice(WORDS) for _ in range(R.randint(1, 4))),
    "app": lambda: R.choice(APPS),
    "pkg": lambda: "%s~31bf3856ad364e35~amd64~~6.1.%d.%d" % (R.choice(PKGS), R.randint(7600, 7601), R.randint(1, 24000)),
    "exc": lambda: R.choice(EXC),
    "prog": lambda: R.choice(PROGRAMS),
    "node": lambda: "R%02d-M%d-N%d-C:J%02d-U%02d" % (R.randint(0, 77), R.randint(0, 1), R.randint(0, 15), R.randint(2, 17), R.randint(1, 11)),
    "pid": lambda: rint(100, 65000),
    "version": lambda: "%d.%d.%d" % (R.randint(0, 9), R.randint(0, 20), R.randint(0, 99)),
    # the styles added for Zookeeper, OpenStack, HealthApp, Mac, Thunderbird, HPC
    "status": lambda: R.choice(["200", "202", "204", "404", "500"]),
    "secs": lambda: "%.7f" % (R.random() * 3),
    "epoch": lambda: str(R.randint(1514038000000, 1514999999999)),
    "intent": lambda: R.choice(["android.intent.action.SCREEN_ON", "android.intent.action.SCREEN_OFF",
                                "android.intent.action.TIME_TICK", "android.intent.action.USER_PRESENT"]),
    "bool": lambda: R.choice(["true", "false"]),
    "uptime": lambda: "%d.%06d" % (R.randint(100000, 999999), R.randint(0, 999999)),
    "kaddr": lambda: "0xffffff80" + hexs(8),
    "zkstate": lambda: R.choice(["LOOKING", "FOLLOWING", "LEADING"]),
    "zkop": lambda: R.choice(["create", "delete", "setData", "multi"]),
    "onoff": lambda: R.choice(["on", "off"]),
    "fans": lambda: " ".join(rint(2000, 4200) for _ in range(R.randint(3, 6))),
    "alt": lambda: R.choice(["alt0", "scsi1", "gige7", "ServerFileSystem"]),
    "domain": lambda: R.choice(["storage%d" % R.randint(1, 99), "sfs%d" % R.randint(1, 99)]),
    "nodes": lambda: " ".join("node-%d 0x%s <ok>" % (R.randint(0, 255), hexs(9)) for _ in range(R.randint(1, 4))),
    "proc": lambda: R.choice(["kernel", "mDNSResponder", "UserEventAgent", "sharingd", "QQ", "corecaptured",
                              "com.apple.cts", "Google Chrome Helper"]),
    "wake": lambda: R.choice(["RTC (Alarm)", "EC.LidOpen (User)", "XHC1", "ARPT (Network)", "EC.SleepTimer (SleepTimer)"]),
    "ipv6": lambda: "fe80::%s:%s:%s:%s" % (hexs(4), hexs(4), hexs(4), hexs(4)),
    "tbnode": lambda: R.choice(["A%d" % R.randint(1, 9), "B%d" % R.randint(1, 9), "C%d" % R.randint(1, 9)]),
}

# Templates per system: {kind} is a variable.
SYSTEMS = {
    "hdfs": [
        "Receiving block {blk} src: /{ip} dest: /{ip}",
        "Received block {blk} of size {int} from /{ip}",
        "Received block {blk} src: /{ip} dest: /{ip} of size {int}",
        "PacketResponder {small} for block {blk} terminating",
        "PacketResponder {small} for block {blk} Interrupted.",
        "BLOCK* NameSystem.addStoredBlock: blockMap updated: {ipport} is added to {blk} size {int}",
        "BLOCK* NameSystem.allocateBlock: {path} {blk}",
        "BLOCK* NameSystem.delete: {blk} is added to invalidSet of {ipport}",
        "Deleting block {blk} file {path}",
        "Verification succeeded for {blk}",
        "{ipport} Served block {blk} to /{ip}",
        "{ipport}:Got exception while serving {blk} to /{ip}:",
        "writeBlock {blk} received exception {exc}: Connection reset by peer",
        "writeBlock {blk} received exception {exc}: Connection timed out",
        "Starting thread to transfer block {blk} to {ipport}",
    ],
    "hadoop": [
        "Progress of TaskAttempt {attempt} is : {float}",
        "{attempt} TaskAttempt Transitioned from {state} to {state}",
        "Container {container} transitioned from {state} to {state}",
        "Assigned container {container} to {attempt}",
        "Released container {container} of capacity <memory:{int}, vCores:{small}> on host {host}:{port}",
        "Num completed Tasks: {int}",
        "Scheduled Maps: {int} Scheduled Reduces: {int} AssignedMaps: {int} AssignedReduces: {int}",
        "Recalculating schedule, headroom=<memory:{int}, vCores:{small}>",
        "Reduce slow start threshold not met. completedMapsForReduceSlowstart {int}",
        "Address change detected. Old: {hostport} New: {hostport}",
        "Retrying connect to server: {hostport}. Already tried {small} time(s); maxRetries={int}",
        "Failed to renew lease for [{words}] for {int} seconds.  Will retry shortly ...",
        "Communication exception: {exc}: Connection refused",
        "Diagnostics report from {attempt}: Container killed by the ApplicationMaster.",
        "Diagnostics report from {attempt}: Container killed on request. Exit code is {int}",
    ],
    "spark": [
        "Running task {float} in stage {float} (TID {int})",
        "Finished task {float} in stage {float} (TID {int}). {int} bytes result sent to driver",
        "Got assigned task {int}",
        "Started reading broadcast variable {int}",
        "Reading broadcast variable {int} took {int} ms",
        "Block broadcast_{int} stored as values in memory (estimated size {size}, free {size})",
        "Block broadcast_{int}_piece0 stored as bytes in memory (estimated size {size}, free {size})",
        "Found block rdd_{int}_{int} locally",
        "Partition rdd_{int}_{int} not found, computing it",
        "Changing view acls to: {user}",
        "Changing modify acls to: {user}",
        "SecurityManager: authentication disabled; ui acls disabled; users with view permissions: Set({user}); users with modify permissions: Set({user})",
        "Registered signal handlers for [{list}]",
        "Successfully started service 'sparkExecutorActorSystem' on port {port}.",
        "Connecting to driver: spark://CoarseGrainedScheduler@{ipport}",
        "Input split: hdfs://{hostport}{path}:{int}+{int}",
    ],
    "openssh": [
        "Accepted password for {user} from {ip} port {port} ssh2",
        "Failed password for {user} from {ip} port {port} ssh2",
        "Failed password for invalid user {user} from {ip} port {port} ssh2",
        "Invalid user {user} from {ip}",
        "input_userauth_request: invalid user {user} [preauth]",
        "Connection closed by {ip} [preauth]",
        "Connection reset by {ip} [preauth]",
        "Received disconnect from {ip}: 11: Bye Bye [preauth]",
        "pam_unix(sshd:auth): authentication failure; logname= uid=0 euid=0 tty=ssh ruser= rhost={ip}  user={user}",
        "pam_unix(sshd:auth): authentication failure; logname= uid=0 euid=0 tty=ssh ruser= rhost={ip}",
        "pam_unix(sshd:auth): check pass; user unknown",
        "reverse mapping checking getaddrinfo for {host} [{ip}] failed - POSSIBLE BREAK-IN ATTEMPT!",
        "Did not receive identification string from {ip}",
        "PAM {small} more authentication failures; logname= uid=0 euid=0 tty=ssh ruser= rhost={ip}  user={user}",
        "error: Received disconnect from {ip}: 3: com.jcraft.jsch.JSchException: Auth fail [preauth]",
        "Disconnecting: Too many authentication failures for {user} [preauth]",
    ],
    "apache": [
        "jk2_init() Found child {pid} in scoreboard slot {small}",
        "workerEnv.init() ok {path}",
        "mod_jk child workerEnv in error state {small}",
        "[client {ip}] Directory index forbidden by rule: {path}",
        "[client {ip}] File does not exist: {path}",
        "jk2_init() Can't find child {pid} in scoreboard",
        "mod_jk child init {small} {neg}",
        "Apache/{version} (Unix) configured -- resuming normal operations",
        "[client {ip}] script not found or unable to stat: {path}",
        "child pid {pid} exit signal Segmentation fault ({small})",
    ],
    "linux": [
        "session opened for user {user} by (uid={int})",
        "session closed for user {user}",
        "authentication failure; logname= uid=0 euid=0 tty=NODEVssh ruser= rhost={host}",
        "authentication failure; logname= uid=0 euid=0 tty=NODEVssh ruser= rhost={ip}  user={user}",
        "check pass; user unknown",
        "ALERT exited abnormally with [{small}]",
        "connection from {ip} ({host}) at {time}",
        "klogd {version}, log source = /proc/kmsg started.",
        "Kernel command line: ro root=LABEL=/ rhgb quiet",
        "cupsd startup succeeded",
        "cupsd shutdown succeeded",
        "syslogd startup succeeded",
        "Memory: {int}k/{int}k available ({int}k kernel code, {int}k reserved, {int}k data, {int}k init, {int}k highmem)",
        "usb {small}-{small}: new full speed USB device using uhci_hcd and address {small}",
        "Audit daemon rotating log files",
        "FTP session opened from {ip} user {user}",
    ],
    "android": [
        "startActivity: Intent {{ act={app}.MAIN cmp={app}/.Main }} from uid {int}",
        "Skipping, withExcluded: false, tr.intent:Intent {{ flg={hex} cmp={app}/.Main (has extras) }}",
        "setLightsOn(true)",
        "setLightsOn(false)",
        "acquire lock={int}, flags={hex}, tag=\"{words}\", name={app}, ws=null, uid={int}, pid={pid}",
        "release lock={int}, flags={hex}, tag=\"{words}\", name={app}, ws=null, uid={int}, pid={pid}",
        "getRingerModeInternal",
        "printFreezingDisplayLogsopening app wtoken = AppWindowToken{{{rawhex} token=Token{{{rawhex} ActivityRecord{{{rawhex} u0 {app}/.Main t{int}}}}}}}, allDrawn= false",
        "Skip process {pid} {app} freeze",
        "Fail to set {words} for {app}",
        "visible is system.time.showampm",
        "onDisplayChanged displayId={small}",
        "cancelNotification,index:{int}, pkg:{app}, id:{int}",
    ],
    "windows": [
        "Loaded Servicing Stack v{version} with Core: {winpath}",
        "Session: {int}_{int} initialized by client WindowsUpdateAgent.",
        "Session: {int}_{int} finalized. Reboot required: no [HRESULT = {hex} - S_OK]",
        "Read out cached package applicability for package: {pkg}, ApplicableState: {int}, CurrentState:{int}",
        "Warning: Unrecognized packageExtended attribute.",
        "Expecting attribute name [HRESULT = {hex} - CBS_E_MANIFEST_INVALID_ITEM]",
        "Failed to get next element [HRESULT = {hex} - CBS_E_MANIFEST_INVALID_ITEM]",
        "Failed to get session package state [HRESULT = {hex} - CBS_E_MANIFEST_INVALID_ITEM]",
        "SQM: Initializing online with Windows opt-in: False",
        "SQM: Cleaning up report files older than {small} days.",
        "SQM: Requesting upload of all unsent reports.",
        "SQM: Failed to start upload with file pattern: {winpath}, flags: {hex} [HRESULT = {hex} - E_FAIL]",
        "Ending TrustedInstaller finalization.",
        "Starting TrustedInstaller initialization.",
    ],
    "bgl": [
        "instruction cache parity error corrected",
        "data cache parity error corrected",
        "generating core.{int}",
        "{int} double-hummer alignment exceptions",
        "CE sym {int}, at {hex}, mask {hex}",
        "ciod: failed to read message prefix on control stream (CioStream socket to {ipport}",
        "ciod: LOGIN chdir({path}) failed: No such file or directory",
        "ciod: Error loading {path}: invalid or missing program image, Exec format error",
        "total of {int} ddr error(s) detected and corrected",
        "{int} ddr errors(s) detected and corrected on rank {small}, symbol {int}, bit {small}",
        "idoproxydb hit ASSERT condition: ASSERT expression={small} Source file={path} Source line={int} Function=int {words}",
        "machine check interrupt (bit={hex}): L2 dcache unit data parity error",
        "Lustre mount FAILED : {node} : point {path}",
        "NodeCard is not fully functional",
    ],
    "proxifier": [
        "{prog} - {hostport} open through proxy {hostport} HTTPS",
        "{prog} - {hostport} open through proxy {hostport} SOCKS5",
        "{prog} - {hostport} close, {int} bytes sent, {int} bytes received, lifetime {time}",
        "{prog} - {hostport} close, {int} bytes ({size}) sent, {int} bytes ({size}) received, lifetime {time}",
        "{prog} - {hostport} error : Could not connect through proxy {hostport} - Proxy server cannot establish a connection with the target, status code {int}",
        "{prog} - {hostport} error : A connection request was canceled before the completion.",
        "Welcome to Proxifier v{version}",
        "[{date} {time}] {prog} - {hostport} matching rule Default",
    ],
    # the ones below: numbers glued to words and units (the loghub
    # convention masks the number only: `<*>ms`, `node-<*>`, `<*>##<*>`),
    # keys and values, sessions in hex, states in capitals, lists of
    # variable length, booleans that name different events
    "zookeeper": [
        "Received connection request /{ip}:{port}",
        "Accepted socket connection from /{ip}:{port}",
        "Client attempting to establish new session at /{ip}:{port}",
        "Established session {hex} with negotiated timeout {int} for client /{ip}:{port}",
        "Closed socket connection for client /{ip}:{port} which had sessionid {hex}",
        "Closed socket connection for client /{ip}:{port} (no session established for client)",
        "Expiring session {hex}, timeout of {int}ms exceeded",
        "Processed session termination for sessionid: {hex}",
        "Connection broken for id {small}, my id = {small}, error = ",
        "Interrupted while waiting for message on queue",
        "Send worker leaving thread",
        "Notification time out: {int}",
        "Have smaller server identifier, so dropping the connection: ({small}, {small})",
        "Cannot open channel to {small} at election address /{ip}:{port}",
        "Notification: {small} (n.leader), {hex} (n.zxid), {hex} (n.round), {zkstate} (n.state), {small} (n.sid), "
        "{hex} (n.peerEPoch), {zkstate} (my state)",
        "Got user-level KeeperException when processing sessionid:{hex} type:{zkop} cxid:{hex} zxid:{hex} "
        "txntype:{neg} reqpath:n/a Error Path:{path} Error:KeeperErrorCode = NodeExists for {path}",
        "caught end of stream exception",
        "Exception causing close of session {hex} due to java.io.IOException: Connection reset by peer",
    ],
    "openstack": [
        "{ip} \"GET {path} HTTP/1.1\" status: {status} len: {int} time: {secs}",
        "{ip} \"POST {path} HTTP/1.1\" status: {status} len: {int} time: {secs}",
        "{ip} \"DELETE {path} HTTP/1.1\" status: {status} len: {int} time: {secs}",
        "[instance: {uuid}] VM Started (Lifecycle Event)",
        "[instance: {uuid}] VM Paused (Lifecycle Event)",
        "[instance: {uuid}] VM Resumed (Lifecycle Event)",
        "[instance: {uuid}] VM Stopped (Lifecycle Event)",
        "[instance: {uuid}] Took {float} seconds to spawn the instance on the hypervisor.",
        "[instance: {uuid}] Took {float} seconds to build instance.",
        "[instance: {uuid}] Took {float} seconds to destroy the instance on the hypervisor.",
        "[instance: {uuid}] Total memory: {int} MB, used: {float} MB",
        "[instance: {uuid}] Attempting claim: memory {int} MB, disk {int} GB, vcpus {small} CPU",
        "[instance: {uuid}] Claim successful",
        "[instance: {uuid}] Creating image",
        "[instance: {uuid}] Deleting instance files {path}",
        "[instance: {uuid}] During sync_power_state the instance has a pending task (spawning). Skip.",
        "Active base files: {path}",
        "Unknown base file: {path}",
        "image {uuid} at ({path}): checking",
        "Running instance usage audit for host {host} from {date} {time} to {date} {time}. {int} instances.",
    ],
    "healthapp": [
        "onStandStepChanged {int}",
        "onExtend:{epoch} {int} {small} {small}",
        "processHandleBroadcastAction action:{intent}",
        "onReceive action: {intent}",
        "flush sensor data",
        "getTodayTotalDetailSteps = {epoch}##{int}##{int}##{int}##{int}##{int}",
        "setTodayTotalDetailSteps={epoch}##{int}##{int}##{int}##{int}##{int}",
        "REPORT : {int} {int} {int} {int}",
        "calculateCaloriesWithCache totalCalories={int}",
        "calculateAltitudeWithCache totalAltitude={int}",
        "screen status unknown,think screen on",
        "insertHiHealthData() bulkSaveDetailHiHealthData fail errorCode = {small},errorMessage = ERR_DATA_INSERT",
        "setGoalNotifiShow isShow = true",
        "setGoalNotifiShow isShow = false",
        "upLoadOneMinuteDataToEngine time={epoch},step={int},type={small}",
    ],
    "mac": [
        "ARPT: {uptime}: wl0: setup_keepalive: Seq: {int}, Ack: {int}, Win size: {int}",
        "ARPT: {uptime}: AirPort_Brcm43xx::syncPowerState: WWEN[enabled]",
        "ARPT: {uptime}: AirPort_Brcm43xx::powerChange: System Sleep",
        "ARPT: {uptime}: AirPort_Brcm43xx::powerChange: System Wake - Full Wake/ Dark Wake / Maintenance wake",
        "AirPort: Link Down on awdl0. Reason {small} (Unspecified).",
        "AirPort: Link Up on en0",
        "en0: BSSID changed to {mac}",
        "Thermal pressure state: {small} Memory pressure state: {small}",
        "hibernate_page_list_setall(preflight {small}) start {kaddr}, {kaddr}",
        "IO80211AWDLPeerManager::setAwdlSuspendedMode() Suspending AWDL, enterQuietMode(true)",
        "IO80211AWDLPeerManager::setAwdlSuspendedMode() Resuming AWDL",
        "Setting BTCoex Config: enable_2G:{small}, profile_2G:{small}, enable_5G:{small}, profile_5G:{small}",
        "Wake reason: {wake}",
        "PM response took {int} ms ({small}, powerd)",
        "{proc}[{pid}]: Failed to connect to {host}: Connection refused",
        "network changed: v4(en0:{ip}) v6(en0:{ipv6}) DNS! Proxy SMB",
        "Sandbox: {proc}({pid}) deny({small}) mach-lookup com.apple.nsurlsessiond",
        "com.apple.CDScheduler: Scheduling activity for {int} seconds",
    ],
    "thunderbird": [
        "session opened for user {user} by (uid={int})",
        "session closed for user {user}",
        "synchronized to {ip}, stratum {small}",
        "({user}) CMD (run-parts {path})",
        "Accepted publickey for {user} from {ip} port {port} ssh2",
        "DHCPREQUEST on eth1 to {ip} port 67",
        "DHCPACK from {ip} (xid={hex})",
        "data_thread() got no answer from any [Thunderbird_{tbnode}] datasource",
        "ib_sm_sweep.c:{int}; ********************** NEW SWEEP ********************",
        "ib_sm_sweep.c:{int}; No topology change",
        "ALERT exited abnormally with [{small}]",
        "Server listening on {ip} port {port}.",
        "Connection closed by {ip}",
        "pbs_mom: Connection refused ({int}) in open_demux, open_demux: connect {ip}:{port}",
        "check pass; user unknown",
        "authentication failure; logname= uid={int} euid={int} tty=NODEVssh ruser= rhost={host}",
    ],
    "hpc": [
        "Component State Change: Component \"{alt}\" is in the unavailable state (HWID={int})",
        "PSU status ( {onoff} {onoff} )",
        "Fan speeds ( {fans} )",
        "Temperature ({int}C) exceeds warning threshold",
        "ClusterFileSystem: There is no server for ServerFileSystem domain {domain}",
        "Link error on broadcast tree Interconnect-{small}T{small}:{small}:{small}:{small}",
        "Link in reset",
        "node-{int} detected a failed network connection on network {ip} via interface alt0",
        "inconsistent nodesets {nodes}",
        "Command has completed successfully",
        "Targeting domains:node-D{small} and nodes:node-[{int}-{int}] child of command {int}",
        "boot (command {int}) Error: Bad node-{int} boot code",
        "ServerFileSystem domain {domain} has no servers",
    ],
}


LONE_NUMBER = re.compile(r"(?<![\w./\\-])\d+(?![\w./\\-])")


def num_end(s, i):
    """The end of the number starting at s[i], or i (src/templates/
    templates_tokenize.c's rule: digits with '.' between digits, a sign
    after a byte that is not a letter or digit, 0x and hex digits)."""
    n, j = len(s), i
    if s[j] in "-+" and j + 1 < n and s[j + 1].isdigit() and (j == 0 or not s[j - 1].isalnum()):
        j += 1
    if j >= n or not s[j].isdigit():
        return i
    if s[j] == "0" and j + 2 < n and s[j + 1] in "xX" and s[j + 2] in string.hexdigits:
        j += 2
        while j < n and s[j] in string.hexdigits:
            j += 1
        return j
    while True:
        while j < n and s[j].isdigit():
            j += 1
        if j + 1 < n and s[j] == "." and s[j + 1].isdigit():
            j += 1
            continue
        return j


def shape(v):
    """loghub's corrected templates mask the numbers of a value that sits
    among words (blk_<*>, node-<*>, <*>_<*>), not an address, hex id, path
    or plain number: the value's shape, or None."""
    if any(c in v for c in "/\\@"):
        return None
    out, i, lit, numbers, letters, name, under, after = [], 0, 0, 0, False, False, False, False
    while i < len(v):
        e = num_end(v, i)
        if e > i:
            out.append(v[lit:i] + "<*>")
            numbers, after, i = numbers + 1, True, e
            lit = i
            continue
        if v[i].isascii() and v[i].isalpha():
            j = i
            while j < len(v) and v[j].isascii() and v[j].isalpha():
                j += 1
            allhex = all(c in "abcdefABCDEF" for c in v[i:j])
            if after and allhex and j < len(v) and v[j].isdigit():
                return None
            letters, name, after, i = True, name or not allhex, False, j
            continue
        under = under or v[i] == "_"
        after, i = False, i + 1
    if not numbers or not (name if letters else under):
        return None
    return "".join(out) + v[lit:]


def render(tpl):
    """(line, parts) for one template string: parts are literal strings and
    [value] lists for the variables."""
    out, parts, i = [], [], 0
    while i < len(tpl):
        if tpl.startswith("{{", i) or tpl.startswith("}}", i):
            out.append(tpl[i]), parts.append(tpl[i])
            i += 2
        elif tpl[i] == "{":
            j = tpl.index("}", i)
            v = VARS[tpl[i + 1:j]]()
            out.append(v), parts.append([v])
            i = j + 1
        else:
            out.append(tpl[i]), parts.append(tpl[i])
            i += 1
    return "".join(out), parts


def ground_truth(instances):
    """The template of one event from all its rendered instances: a variable
    is <*>, or its shape when every instance has the same one; loghub's
    ground truth masks a number standing alone in the text too (uid=<*>,
    port <*>, ": <*>:"), not one inside a name (ssh2, HTTP/1.1)."""
    gt = []
    for k, p in enumerate(instances[0]):
        if isinstance(p, str):
            gt.append(p)
            continue
        shapes = {shape(inst[k][0]) for inst in instances}
        one = shapes.pop() if len(shapes) == 1 else None
        gt.append(one if one else "<*>")
    return LONE_NUMBER.sub("<*>", "".join(gt))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("out")
    ap.add_argument("--lines-per-system", type=int, default=2000)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--systems", default=",".join(SYSTEMS))
    ap.add_argument("--plain", help="also write the messages alone, one per line")
    ap.add_argument("--raw", action="store_true", help="lines with a raw header (date time pid level component:)")
    a = ap.parse_args()
    R.seed(a.seed)
    rows = []
    for sysname in a.systems.split(","):
        tpls = SYSTEMS[sysname]
        # Zipf-like weights over a shuffled order, every event at least once
        order = list(range(len(tpls)))
        R.shuffle(order)
        weights = [0.0] * len(tpls)
        for rank, k in enumerate(order):
            weights[k] = 1.0 / (rank + 1) ** 1.1
        picks = list(range(len(tpls))) + R.choices(range(len(tpls)), weights, k=max(0, a.lines_per_system - len(tpls)))
        R.shuffle(picks)
        rendered = [(k, render(tpls[k])) for k in picks]
        truth = {}
        for k, (_, parts) in rendered:
            truth.setdefault(k, []).append(parts)
        truth = {k: ground_truth(v) for k, v in truth.items()}
        for k, (line, _) in rendered:
            gt = truth[k]
            if a.raw:
                level = ("INFO", "WARN", "ERROR", "DEBUG")[k % 4]
                comp = ("dfs.DataNode", "sshd", "kernel", "CBS", "org.apache.Task", "RAS")[(k * 7 + len(sysname)) % 6]
                head = "%02d%02d%02d %02d%02d%02d %d %s %s:" % (R.randint(15, 24), R.randint(1, 12), R.randint(1, 28),
                                                        R.randint(0, 23), R.randint(0, 59), R.randint(0, 59),
                                                        R.randint(1, 30000), level, comp)
                line, gt = head + " " + line, "<*> <*> <*> %s %s: " % (level, comp) + gt
            rows.append((sysname, line, "%s-E%d" % (sysname, k + 1), gt))
    with open(a.out, "w", newline="") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(["system", "log_message", "event_id", "event_template"])
        w.writerows(rows)
    if a.plain:
        with open(a.plain, "w") as f:
            for r in rows:
                f.write(r[1] + "\n")


if __name__ == "__main__":
    main()
