import Glibc

/// What the process as a whole decides, set once by the executable before anything starts
/// (libraries never change signal dispositions).
enum ProcessPolicy {
    static func apply() {
        // A write to a peer that went away must fail with EPIPE, not kill the process (the
        // engine sends with MSG_NOSIGNAL; this covers every other descriptor).
        signal(SIGPIPE, SIG_IGN)
        // A file-size limit (ulimit -f) must surface as a write error in the event log, not
        // kill the process: the log then answers 503 and says why.
        signal(SIGXFSZ, SIG_IGN)
    }
}
