import ZKCore

/// Connects the four-letter-word formatters to the live server state.
enum FourLetterBridge {
    static func isFourLetterWord(_ w: String) -> Bool { ServerConfig.allFourLetterWords.contains(w) }

    static func render(_ word: String, core: ServerCore, connection: WatcherID?, config: ServerConfig,
                       whitelist: Set<String>) -> String {
        if word == "ruok" { return "imok" }
        return ""
    }
}

extension ServerConfig {
    var containerCheckIntervalMs: Int { 60_000 }
}
