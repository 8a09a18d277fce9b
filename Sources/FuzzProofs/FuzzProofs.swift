import FuzzTargets

#if FUZZING
    // A libFuzzer binary: SwiftPM links an executable's entry point as `<module>_main`.
    @_cdecl("LLVMFuzzerTestOneInput")
    public func fuzzTestOneInput(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
        FuzzTarget.proofs.run(data, count: size)
        return 0
    }

    @_cdecl("FuzzProofs_main")
    public func fuzzProofsMain(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> CInt {
        FuzzTarget.runLibFuzzer(argc: argc, argv: argv, testOneInput: fuzzTestOneInput)
    }
#else
    import Foundation

    /// Replays the inputs named on the command line through the proofs fuzz target.
    @main struct FuzzProofsReplay {
        static func main() {
            exit(FuzzTarget.proofs.replay(arguments: Array(CommandLine.arguments.dropFirst())))
        }
    }
#endif
