// ZKProtocol
