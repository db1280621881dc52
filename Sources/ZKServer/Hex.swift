import ZKProtocol

/// A zxid or session id as unsigned hex digits (no prefix), for logs and four-letter words.
/// Here rather than `Zxid(v).description` because ZKQuorum's `Zxid` helpers share the name.
func hex(_ v: Int64) -> String { ZKProtocol.Zxid.hex(v) }
