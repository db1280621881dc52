import ArgumentParser

/// zkops: render, plan, deploy and watch ZooKeeper ensembles over SSH.
struct ZKOpsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "zkops",
        abstract: "Deploy and check ZooKeeper ensembles (swift zkserver or Apache) over SSH.",
        subcommands: [RenderCommand.self, PlanCommand.self, DeployCommand.self, StatusCommand.self,
                      StartCommand.self, StopCommand.self, AddServerCommand.self, RemoveServerCommand.self,
                      RollingRestartCommand.self, UpgradeCommand.self, RollbackCommand.self])
}

ZKOpsCommand.main()
