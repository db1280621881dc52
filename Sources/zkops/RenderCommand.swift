import ArgumentParser
import Foundation
import ZKOps

/// `zkops render -i INV -o DIR`: every host's files under DIR/<host>/; no host touched.
struct RenderCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "render", abstract: "Render each host's files into a directory.")

    @OptionGroup var options: InventoryOptions

    @Option(name: [.short, .customLong("output")], help: "Output directory.")
    var output: String

    func run() throws {
        let inv = try options.load(forRender: true)
        let renderer = Renderer()
        for h in inv.hosts {
            let dir = output + "/" + h.name
            try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
            for f in try renderer.render(host: h, in: inv) {
                let path = dir + "/" + f.name
                try Data(f.content.utf8).write(to: URL(fileURLWithPath: path))
                chmod(path, mode_t(f.mode))
            }
            print("\(h.name): \(dir)")
        }
    }
}
