import FuzzTargets

#if FUZZING
    // A libFuzzer binary: SwiftPM links an executable's entry point as `<module>_main`.
    @_cdecl("LLVMFuzzerTestOneInput")
    public func fuzzTestOneInput(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
        FuzzTarget.witness.run(data, count: size)
        return 0
    }

    @_cdecl("FuzzWitness_main")
    public func fuzzWitnessMain(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> CInt {
        FuzzTarget.runLibFuzzer(argc: argc, argv: argv, testOneInput: fuzzTestOneInput)
    }
#else
    import Foundation

    /// Replays the inputs named on the command line through the witness fuzz target.
    @main struct FuzzWitnessReplay {
        static func main() {
            exit(FuzzTarget.witness.replay(arguments: Array(CommandLine.arguments.dropFirst())))
        }
    }
#endif
