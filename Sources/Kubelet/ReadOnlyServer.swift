import Foundation
import Hummingbird
import KubeAPI
import Runtime

/// The kubelet read-only port (`--read-only-port`, 127.0.0.1:10255 by default): `/healthz`,
/// `/pods` (a v1 PodList with full status) and `/containerLogs/{ns}/{pod}/{container}`.
struct KubeletEndpoints: Sendable {
    let statuses: PodStatusStore
    let runtime: RuntimeService

    func addRoutes(to router: Router<BasicRequestContext>) {
        router.get("/healthz") { _, _ in "ok" }
        router.get("/pods") { _, _ -> Response in
            self.json(self.podList())
        }
        router.get("/containerLogs/:namespace/:pod/:container") { request, context -> Response in
            try self.containerLogs(request, context)
        }
    }

    func podList() -> [String: JSONValue] {
        let items = statuses.all().sorted { ($0.metadata.namespace ?? "", $0.metadata.name ?? "") < ($1.metadata.namespace ?? "", $1.metadata.name ?? "") }
        let encoded = (try? JSONValue.parse(JSONEncoder().encode(items))) ?? .array([])
        return ["kind": .string("PodList"), "apiVersion": .string("v1"), "metadata": .object([:]), "items": encoded]
    }

    func json<T: Encodable>(_ value: T) -> Response {
        let data = (try? JSONEncoder().encode(value)) ?? Data("{}".utf8)
        return Response(status: .ok, headers: [.contentType: "application/json"], body: ResponseBody(byteBuffer: ByteBuffer(bytes: data)))
    }

    func containerLogs(_ request: Request, _ context: BasicRequestContext) throws -> Response {
        let namespace = context.parameters.get("namespace") ?? ""
        let podName = context.parameters.get("pod") ?? ""
        let containerName = context.parameters.get("container") ?? ""
        let query = request.uri.queryParameters
        guard let pod = statuses.pod(namespace: namespace, name: podName), let uid = pod.metadata.uid else {
            throw HTTPError(.notFound, message: "pod \(namespace)/\(podName) not found")
        }
        let previous = query.get("previous") == "true"
        let instances = runtime.listContainers().filter {
            $0.config.labels["io.kubernetes.pod.uid"] == uid && $0.config.name == containerName
        }.sorted { ($0.config.attempt, $0.createdAt) < ($1.config.attempt, $1.createdAt) }
        guard let current = instances.last else {
            throw HTTPError(.badRequest, message: "container \"\(containerName)\" in pod \"\(podName)\" is waiting to start")
        }
        let target: ContainerRecord
        if previous {
            guard let prior = instances.dropLast().last else {
                throw HTTPError(.badRequest, message: "previous terminated container \"\(containerName)\" in pod \"\(podName)\" not found")
            }
            target = prior
        } else {
            target = current
        }
        var logReader = ContainerLogReader(path: target.logPath)
        logReader.timestamps = query.get("timestamps") == "true"
        logReader.tailLines = query.get("tailLines").flatMap { Int($0) }
        let reader = logReader
        let (initial, offset) = reader.read()
        let follow = query.get("follow") == "true" && !previous
        if !follow {
            return Response(status: .ok, headers: [.contentType: "text/plain"], body: ResponseBody(byteBuffer: ByteBuffer(bytes: initial)))
        }
        let runtime = self.runtime
        let id = target.id
        return Response(status: .ok, headers: [.contentType: "text/plain"], body: ResponseBody { writer in
            try await writer.write(ByteBuffer(bytes: initial))
            var position = offset
            while true {
                let running = (try? runtime.containerStatus(id).state) == .running
                let (more, next) = reader.readFrom(position)
                position = next
                if !more.isEmpty { try await writer.write(ByteBuffer(bytes: more)) }
                if !running && more.isEmpty { break }
                try await Task.sleep(nanoseconds: 100_000_000)
            }
            try await writer.finish(nil)
        })
    }
}
