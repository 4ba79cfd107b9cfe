import CSluice

/// This process's memory as the kernel sees it.
public enum ProcessMemory {
    /// Resident set size in bytes (from /proc/self/statm); 0 if unknown.
    public static func residentBytes() -> Int { Int(csluice_resident_bytes()) }

    /// Asks the kernel to drop the clean file-backed pages this process has mapped (code and
    /// read-only data start-up touched once) and to fault them back page by page. Returns the
    /// number of mappings advised, or -1.
    @discardableResult
    public static func releaseFilePages() -> Int { Int(csluice_release_file_pages()) }

    /// Gives malloc's free pages back to the kernel. glibc keeps what was freed inside its
    /// per-thread heaps and returns only a heap's top: under load, consumers free fetched records
    /// on other threads than the ones that allocated them, and half of a busy heap can stay
    /// resident, free. Takes each heap's lock while it walks it.
    @discardableResult
    public static func releaseFreeHeap() -> Bool { csluice_release_free_heap() != 0 }
}
