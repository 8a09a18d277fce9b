import CZstd
import Compression
import Crypto
import Foundation

/// Streaming zstd over files, for inputs too large to hold in memory: one standard frame with the
/// content size and checksum in its header (what `zstd -d` reads), SHA-256 of both sides computed
/// on the way.
enum ZstdStream {
    static let chunk = 1 << 20

    struct Digests {
        var inputBytes: Int = 0
        var inputSHA256 = ""
        var outputBytes: Int = 0
        var outputSHA256 = ""
    }

    static func hex(_ digest: SHA256.Digest) -> String { "0x" + digest.map { String(format: "%02x", $0) }.joined() }

    /// Compresses the file at `input` into one frame appended to `output`.
    static func compress(file input: String, to output: FileHandle, level: Int32) throws -> Digests {
        guard let source = FileHandle(forReadingAtPath: input) else {
            throw OperatorError("cannot read \(input)")
        }
        defer { try? source.close() }
        let size = (try FileManager.default.attributesOfItem(atPath: input)[.size] as? Int) ?? 0
        guard let context = ZSTD_createCCtx() else { throw OperatorError("zstd could not allocate a context") }
        defer { ZSTD_freeCCtx(context) }
        try check(ZSTD_CCtx_setParameter(context, ZSTD_c_compressionLevel, level))
        try check(ZSTD_CCtx_setParameter(context, ZSTD_c_checksumFlag, 1))
        try check(ZSTD_CCtx_setParameter(context, ZSTD_c_contentSizeFlag, 1))
        try check(ZSTD_CCtx_setPledgedSrcSize(context, UInt64(size)))
        var inHash = SHA256()
        var outHash = SHA256()
        var digests = Digests()
        var out = [UInt8](repeating: 0, count: ZSTD_CStreamOutSize())
        var finished = false
        while !finished {
            let data = try source.read(upToCount: chunk) ?? Data()
            let last = data.isEmpty
            inHash.update(data: data)
            digests.inputBytes += data.count
            try data.withUnsafeBytes { raw in
                var inBuffer = ZSTD_inBuffer(src: raw.baseAddress, size: raw.count, pos: 0)
                while true {
                    let remaining = try out.withUnsafeMutableBytes { o -> Int in
                        var outBuffer = ZSTD_outBuffer(dst: o.baseAddress, size: o.count, pos: 0)
                        let r = try check(
                            ZSTD_compressStream2(context, &outBuffer, &inBuffer, last ? ZSTD_e_end : ZSTD_e_continue))
                        let produced = Data(bytes: o.baseAddress!, count: outBuffer.pos)
                        outHash.update(data: produced)
                        digests.outputBytes += produced.count
                        try output.write(contentsOf: produced)
                        return r
                    }
                    if last ? remaining == 0 : inBuffer.pos == inBuffer.size { break }
                }
            }
            finished = last
        }
        guard digests.inputBytes == size else { throw OperatorError("\(input) changed while it was compressed") }
        digests.inputSHA256 = hex(inHash.finalize())
        digests.outputSHA256 = hex(outHash.finalize())
        return digests
    }

    /// Decompresses the frame that starts at `input`'s current offset into `output` (nil: discard),
    /// computing SHA-256 of the compressed and decompressed bytes. Reads to the end of `input`; bytes
    /// after the frame are an error. Stops with an error before writing a byte past `limit`: the caller
    /// passes the size it checked against the frame header and the free disk space.
    static func decompress(from input: FileHandle, to output: FileHandle?, limit: UInt64) throws -> Digests {
        guard let context = ZSTD_createDCtx() else { throw OperatorError("zstd could not allocate a context") }
        defer { ZSTD_freeDCtx(context) }
        var inHash = SHA256()
        var outHash = SHA256()
        var digests = Digests()
        var out = [UInt8](repeating: 0, count: ZSTD_DStreamOutSize())
        var frameDone = false
        while true {
            let data = try input.read(upToCount: chunk) ?? Data()
            if data.isEmpty { break }
            inHash.update(data: data)
            digests.inputBytes += data.count
            try data.withUnsafeBytes { raw in
                var inBuffer = ZSTD_inBuffer(src: raw.baseAddress, size: raw.count, pos: 0)
                while inBuffer.pos < inBuffer.size {
                    if frameDone { throw OperatorError("the snapshot has bytes after its data frame") }
                    let r = try out.withUnsafeMutableBytes { o -> Int in
                        var outBuffer = ZSTD_outBuffer(dst: o.baseAddress, size: o.count, pos: 0)
                        let r = ZSTD_decompressStream(context, &outBuffer, &inBuffer)
                        if ZSTD_isError(r) != 0 {
                            throw OperatorError(
                                "the data frame does not decompress: \(String(cString: ZSTD_getErrorName(r)))")
                        }
                        guard UInt64(digests.outputBytes) + UInt64(outBuffer.pos) <= limit else {
                            throw OperatorError(
                                "the data frame decompresses to more than the \(limit) bytes it declares; stopped there")
                        }
                        let produced = Data(bytes: o.baseAddress!, count: outBuffer.pos)
                        outHash.update(data: produced)
                        digests.outputBytes += produced.count
                        try output?.write(contentsOf: produced)
                        return r
                    }
                    if r == 0 { frameDone = true }
                }
            }
        }
        guard frameDone else { throw OperatorError("the data frame is truncated") }
        digests.inputSHA256 = hex(inHash.finalize())
        digests.outputSHA256 = hex(outHash.finalize())
        return digests
    }

    @discardableResult
    static func check(_ code: Int) throws -> Int {
        if ZSTD_isError(code) != 0 { throw OperatorError("zstd: \(String(cString: ZSTD_getErrorName(code)))") }
        return code
    }
}
