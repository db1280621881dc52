import Logging
import NIOCore
import ZKCore
import ZKServer

// Temporary smoke-test entry; replaced by the zoo.cfg-driven command.
let port = Int(CommandLine.arguments.dropFirst().first ?? "2181") ?? 2181
var settings = CoreSettings()
settings.extendedTypesEnabled = true
settings.containerCheckIntervalMs = 1000
let logger = Logger(label: "zkserver")
let listener = try await ClientListener(host: "127.0.0.1", port: port, settings: settings,
                                        tree: DataTree(extendedTypesEnabled: true), log: VolatileTxnLog(), logger: logger,
                                        fourLetter: { $0 == "ruok" }, render: { _, _, _ in "imok" })
print("listening on \(listener.localPort ?? 0)")
try await listener.channel.closeFuture.get()
