import Foundation

#if FUZZING
    @_silgen_name("LLVMFuzzerRunDriver")
    private func LLVMFuzzerRunDriver(
        _ argc: UnsafeMutablePointer<CInt>,
        _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?>,
        _ testOneInput: @convention(c) (UnsafePointer<UInt8>?, Int) -> CInt
    ) -> CInt

    extension FuzzTarget {
        /// Hands the process to libFuzzer, which calls `testOneInput` with each input (fuzz builds only:
        /// `-sanitize=fuzzer` links libFuzzer, whose flags the command line carries).
        public static func runLibFuzzer(
            argc: CInt, argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?,
            testOneInput: @convention(c) (UnsafePointer<UInt8>?, Int) -> CInt
        ) -> CInt {
            var argc = argc
            var argv = argv
            return LLVMFuzzerRunDriver(&argc, &argv, testOneInput)
        }
    }
#endif

extension FuzzTarget {
    /// Runs the target on the bytes libFuzzer passes.
    public func run(_ data: UnsafePointer<UInt8>?, count: Int) {
        run(data.map { Array(UnsafeBufferPointer(start: $0, count: count)) } ?? [])
    }

    /// Every input file under `paths`: the files named, and the regular files in the directories
    /// named (recursively), sorted by path. Hidden files are skipped.
    public static func inputFiles(_ paths: [String]) throws -> [String] {
        var files: [String] = []
        let manager = FileManager.default
        for path in paths {
            var isDirectory: ObjCBool = false
            guard manager.fileExists(atPath: path, isDirectory: &isDirectory) else {
                throw CocoaError(.fileNoSuchFile, userInfo: [NSFilePathErrorKey: path])
            }
            guard isDirectory.boolValue else {
                files.append(path)
                continue
            }
            let url = URL(fileURLWithPath: path)
            for case let name as String in manager.enumerator(atPath: path) ?? FileManager.DirectoryEnumerator() {
                let file = url.appendingPathComponent(name).path
                var nested: ObjCBool = false
                if !name.split(separator: "/").contains(where: { $0.hasPrefix(".") }),
                    manager.fileExists(atPath: file, isDirectory: &nested), !nested.boolValue
                {
                    files.append(file)
                }
            }
        }
        return files.sorted()
    }

    /// The replay runner of normal builds: runs every input under `arguments` (files or
    /// directories, as libFuzzer takes them) through the target and prints how many it ran.
    /// Returns the process's exit status: 0, or 2 for a usage error or an unreadable path.
    public func replay(arguments: [String]) -> CInt {
        let paths = arguments.filter { !$0.hasPrefix("-") }
        if paths.isEmpty || arguments.contains("--help") || arguments.contains("-h") {
            print(
                """
                Usage: fuzz-\(rawValue) PATH...
                Runs every file named, and every file in the directories named, through the \(rawValue) fuzz
                target once (a regression run). Built with Scripts/fuzz, the same target runs under libFuzzer.
                """)
            return paths.isEmpty && !arguments.contains("--help") && !arguments.contains("-h") ? 2 : 0
        }
        do {
            let files = try Self.inputFiles(paths)
            for file in files {
                guard let data = FileManager.default.contents(atPath: file) else {
                    throw CocoaError(.fileReadUnknown, userInfo: [NSFilePathErrorKey: file])
                }
                run([UInt8](data))
            }
            print("fuzz-\(rawValue): \(files.count) inputs replayed, no property failed")
            return 0
        } catch {
            FileHandle.standardError.write(Data("fuzz-\(rawValue): \(error)\n".utf8))
            return 2
        }
    }
}
