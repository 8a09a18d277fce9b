import FuzzTargets

#if FUZZING
    // A libFuzzer binary: SwiftPM links an executable's entry point as `<module>_main`.
    @_cdecl("LLVMFuzzerTestOneInput")
    public func fuzzTestOneInput(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
        FuzzTarget.batch.run(data, count: size)
        return 0
    }

    @_cdecl("FuzzBatch_main")
    public func fuzzBatchMain(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> CInt {
        FuzzTarget.runLibFuzzer(argc: argc, argv: argv, testOneInput: fuzzTestOneInput)
    }
#else
    import Foundation

    /// Replays the inputs named on the command line through the batch fuzz target.
    @main struct FuzzBatchReplay {
        static func main() {
            exit(FuzzTarget.batch.replay(arguments: Array(CommandLine.arguments.dropFirst())))
        }
    }
#endif
