import Crypto
import Foundation

/// Records core/v1 Events about objects, as client-go's recorder does: the same object,
/// reason and message within a series bump `count` and `lastTimestamp` of one Event instead
/// of creating another.
struct EventRecorder: Sendable {
    let registry: Registry

    func record(_ object: JSON, type: String = "Normal", reason: String, message: String, component: String,
                host: String? = nil)
    {
        let ns = object.namespace.isEmpty ? "default" : object.namespace
        let digest = SHA256.hash(data: Array("\(object.uid)|\(reason)|\(message)".utf8)).prefix(8)
        let suffix = digest.map { b in
            let d = Array("0123456789abcdef")
            return String([d[Int(b >> 4)], d[Int(b & 0xF)]])
        }.joined()
        let name = "\(object.name).\(suffix)"
        let now = Timestamp.now()
        let r = ResourceRegistry.events
        do {
            if try registry.getIfPresent(r, namespace: ns, name: name) != nil {
                try registry.modify(r, namespace: ns, name: name) { e in
                    e["count"] = .int((e["count"]?.int ?? 1) + 1)
                    e["lastTimestamp"] = .string(now)
                }
                return
            }
            var involved = JSONObject()
            involved["kind"] = .string(object.kind)
            if !object.namespace.isEmpty { involved["namespace"] = .string(object.namespace) }
            involved["name"] = .string(object.name)
            involved["uid"] = .string(object.uid)
            involved["apiVersion"] = .string(object.apiVersion)
            involved["resourceVersion"] = .string(object.resourceVersion)
            var source = JSONObject()
            source["component"] = .string(component)
            if let host { source["host"] = .string(host) }
            let event = JSON.obj([
                "metadata": .obj(["name": .string(name), "namespace": .string(ns)]),
                "involvedObject": .object(involved), "reason": .string(reason), "message": .string(message),
                "source": .object(source), "firstTimestamp": .string(now), "lastTimestamp": .string(now), "count": 1,
                "type": .string(type), "eventTime": nil, "reportingComponent": .string(component), "reportingInstance": "",
            ])
            _ = try registry.create(r, namespace: ns, object: event, context: .controllers)
        } catch {
            registry.logger.debug("event \(reason) for \(object.name) not recorded: \(error)")
        }
    }
}
