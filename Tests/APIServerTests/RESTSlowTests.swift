import Foundation
import Testing

@testable import APIServer

/// Raw REST calls over HTTPS with the admin token (curl observes; the server is in-process).
struct API: Sendable {
    let ep: APIServerEndpoint
    let ca: String

    init(_ ep: APIServerEndpoint, dir: String) {
        self.ep = ep
        ca = dir + "/pki/ca.crt"
    }

    func call(_ method: String, _ path: String, _ body: String? = nil, type: String = "application/json",
              accept: String? = nil, timeout: TimeInterval = 20) async throws -> (code: Int, body: String)
    {
        var args = ["curl", "-s", "-m", String(Int(timeout)), "-w", "\n%{http_code}", "-X", method, "--cacert", ca,
                    "-H", "Authorization: Bearer \(ep.adminToken)"]
        if let accept { args += ["-H", "Accept: \(accept)"] }
        if body != nil { args += ["-H", "Content-Type: \(type)", "--data-binary", "@-"] }
        let r = try await Command.run(args + [ep.url + path], stdin: body, timeout: timeout + 5)
        let lines = r.stdout.split(separator: "\n", omittingEmptySubsequences: false)
        return (Int(lines.last ?? "") ?? 0, lines.dropLast().joined(separator: "\n"))
    }

    func json(_ method: String, _ path: String, _ body: String? = nil, type: String = "application/json") async throws -> JSON {
        let (code, text) = try await call(method, path, body, type: type)
        guard (200..<300).contains(code) else { throw APIServerError.setup("\(method) \(path): \(code) \(text)") }
        return try JSON.parse(text)
    }

    /// The event lines a watch printed before `timeoutSeconds` ended it, as (type, name).
    func watchEvents(_ path: String) async throws -> [(String, String)] {
        let (_, text) = try await call("GET", path, timeout: 15)
        return text.split(separator: "\n").compactMap { line in
            guard let e = try? JSON.parse(String(line)) else { return nil }
            return (e["type"]?.string ?? "", e["object"]?.name ?? "")
        }
    }
}

@Suite(.serialized, .enabled(if: commandExists("curl"), "needs curl"))
struct RESTSlowTests {
    @Test func pagingWithLimitAndContinue() async throws {
        try await withAPIServer({ $0.runControllers = false }) { ep, dir in
            let api = API(ep, dir: dir)
            for i in 0..<7 { _ = try await api.json("POST", "/api/v1/namespaces/default/configmaps", #"{"metadata":{"name":"p\#(i)"}}"#) }
            var names: [String] = []
            var token = ""
            var pages = 0
            repeat {
                let page = try await api.json("GET", "/api/v1/namespaces/default/configmaps?limit=3" + (token.isEmpty ? "" : "&continue=\(token)"))
                names += page["items"]?.array?.map(\.name) ?? []
                token = page["metadata"]?["continue"]?.string ?? ""
                pages += 1
                #expect((page["items"]?.array?.count ?? 0) <= 3)
            } while !token.isEmpty && pages < 10
            #expect(names.filter { $0.hasPrefix("p") } == (0..<7).map { "p\($0)" })
            let (code, body) = try await api.call("GET", "/api/v1/namespaces/default/configmaps?limit=2&continue=not-a-token")
            #expect(code == 400 && body.contains("continue"))
        }
    }

    @Test func selectorWatchTurnsLeavingIntoDeletedAndSendsBookmarks() async throws {
        try await withAPIServer({ $0.runControllers = false; $0.bookmarkInterval = .milliseconds(500) }) { ep, dir in
            let api = API(ep, dir: dir)
            let rv = try await api.json("GET", "/api/v1/namespaces/default/configmaps")["metadata"]?["resourceVersion"]?.string ?? ""
            async let events = api.watchEvents("/api/v1/namespaces/default/configmaps?watch=1&labelSelector=tier%3Dweb&resourceVersion=\(rv)&timeoutSeconds=4&allowWatchBookmarks=true")
            try await Task.sleep(for: .seconds(1))
            let cm = "/api/v1/namespaces/default/configmaps"
            _ = try await api.json("POST", cm, #"{"metadata":{"name":"w","labels":{"tier":"web"}}}"#)
            _ = try await api.json("POST", cm, #"{"metadata":{"name":"other","labels":{"tier":"db"}}}"#)
            _ = try await api.json("PATCH", cm + "/w", #"{"metadata":{"labels":{"tier":"db"}}}"#, type: "application/merge-patch+json")
            _ = try await api.json("PATCH", cm + "/w", #"{"metadata":{"labels":{"tier":"web"}}}"#, type: "application/merge-patch+json")
            _ = try await api.json("DELETE", cm + "/w")
            let seen = try await events
            let changes = seen.filter { $0.0 != "BOOKMARK" }
            #expect(changes.map(\.0) == ["ADDED", "DELETED", "ADDED", "DELETED"], "\(seen)")
            #expect(changes.allSatisfy { $0.1 == "w" })
            #expect(seen.contains { $0.0 == "BOOKMARK" })
        }
    }

    @Test func statusSubresourceAndDeleteCollection() async throws {
        try await withAPIServer({ $0.runControllers = false }) { ep, dir in
            let api = API(ep, dir: dir)
            let pods = "/api/v1/namespaces/default/pods"
            for n in ["a", "b", "c"] {
                _ = try await api.json("POST", pods, #"{"metadata":{"name":"\#(n)","labels":{"set":"\#(n == "c" ? "keep" : "drop")"}},"spec":{"containers":[{"name":"c","image":"x"}]}}"#)
            }
            var pod = try await api.json("GET", pods + "/a")
            pod["status"] = .obj(["phase": "Running", "podIP": "10.1.1.1"])
            pod["spec"]?["activeDeadlineSeconds"] = 100
            let viaStatus = try await api.json("PUT", pods + "/a/status", pod.text)
            #expect(viaStatus["status"]?["phase"]?.string == "Running")
            #expect(viaStatus["spec"]?["activeDeadlineSeconds"] == nil)  // status writes change status only
            var again = viaStatus
            again["status"] = .obj(["phase": "Failed"])
            let viaMain = try await api.json("PUT", pods + "/a", again.text)
            #expect(viaMain["status"]?["phase"]?.string == "Running")  // main writes keep status
            let deleted = try await api.json("DELETE", pods + "?labelSelector=set%3Ddrop")
            #expect(Set(deleted["items"]?.array?.map(\.name) ?? []) == ["a", "b"])
            let left = try await api.json("GET", pods)["items"]?.array?.map(\.name)
            #expect(left == ["c"])
        }
    }

    @Test func foregroundAndOrphanPropagation() async throws {
        try await withAPIServer { ep, dir in
            let api = API(ep, dir: dir)
            let deployments = "/apis/apps/v1/namespaces/default/deployments"
            let body = #"{"metadata":{"name":"fg"},"spec":{"replicas":2,"selector":{"matchLabels":{"app":"fg"}},"template":{"metadata":{"labels":{"app":"fg"}},"spec":{"containers":[{"name":"c","image":"x"}]}}}}"#
            _ = try await api.json("POST", deployments, body)
            #expect(try await eventually { (try await api.json("GET", "/api/v1/namespaces/default/pods?labelSelector=app%3Dfg")["items"]?.array?.count ?? 0) == 2 })
            let pending = try await api.json("DELETE", deployments + "/fg", #"{"propagationPolicy":"Foreground"}"#)
            #expect(pending["metadata"]?["finalizers"]?.array == ["foregroundDeletion"])
            #expect(pending.deletionTimestamp != nil)
            // Dependents go first (unscheduled pods go at once), then the owner.
            #expect(try await eventually {
                let (code, _) = try await api.call("GET", deployments + "/fg")
                let rs = try await api.json("GET", "/apis/apps/v1/namespaces/default/replicasets")["items"]?.array ?? []
                let pods = try await api.json("GET", "/api/v1/namespaces/default/pods?labelSelector=app%3Dfg")["items"]?.array ?? []
                return code == 404 && rs.isEmpty && pods.isEmpty
            })

            _ = try await api.json("POST", deployments, body.replacingOccurrences(of: "\"fg\"", with: "\"or\""))
            #expect(try await eventually { (try await api.json("GET", "/api/v1/namespaces/default/pods?labelSelector=app%3Dor")["items"]?.array?.count ?? 0) == 2 })
            _ = try await api.json("DELETE", deployments + "/or", #"{"propagationPolicy":"Orphan"}"#)
            #expect(try await eventually {
                let (code, _) = try await api.call("GET", deployments + "/or")
                let rs = try await api.json("GET", "/apis/apps/v1/namespaces/default/replicasets")["items"]?.array ?? []
                return code == 404 && rs.count == 1 && rs[0].ownerReferences.isEmpty
            })
            let pods = try await api.json("GET", "/api/v1/namespaces/default/pods?labelSelector=app%3Dor")["items"]?.array ?? []
            #expect(pods.count == 2 && pods.allSatisfy { $0.deletionTimestamp == nil })
        }
    }

    @Test func silentNodeGoesUnknownTaintedAndItsPodsAreEvicted() async throws {
        try await withAPIServer({
            $0.controllers.nodeMonitorGracePeriod = .seconds(2)
            $0.controllers.nodeMonitorPeriod = .milliseconds(300)
        }) { ep, dir in
            let api = API(ep, dir: dir)
            let now = Timestamp.now()
            _ = try await api.json("POST", "/api/v1/nodes", #"""
                {"metadata":{"name":"n1"},"status":{"conditions":[{"type":"Ready","status":"True","lastHeartbeatTime":"\#(now)","lastTransitionTime":"\#(now)"}],
                 "allocatable":{"cpu":"2","memory":"2Gi","pods":"10"}}}
                """#)
            _ = try await api.json("POST", "/api/v1/namespaces/default/pods", #"""
                {"metadata":{"name":"short"},"spec":{"nodeName":"n1","containers":[{"name":"c","image":"x"}],
                 "tolerations":[{"key":"node.kubernetes.io/unreachable","operator":"Exists","effect":"NoExecute","tolerationSeconds":1}]}}
                """#)
            _ = try await api.json("POST", "/api/v1/namespaces/default/pods", #"""
                {"metadata":{"name":"long"},"spec":{"nodeName":"n1","containers":[{"name":"c","image":"x"}]}}
                """#)
            #expect(try await eventually(15) {
                let n = try await api.json("GET", "/api/v1/nodes/n1")
                let ready = n["status"]?["conditions"]?.array?.first { $0["type"]?.string == "Ready" }
                let taints = n["spec"]?["taints"]?.array ?? []
                return ready?["status"]?.string == "Unknown" && ready?["reason"]?.string == "NodeStatusUnknown"
                    && taints.contains { $0["key"]?.string == "node.kubernetes.io/unreachable" && $0["effect"]?.string == "NoExecute" }
            })
            // tolerationSeconds 1 runs out; the default 300 s does not.
            #expect(try await eventually(10) { try await api.json("GET", "/api/v1/namespaces/default/pods/short").deletionTimestamp != nil })
            #expect(try await api.json("GET", "/api/v1/namespaces/default/pods/long").deletionTimestamp == nil)
        }
    }

    @Test func namespaceDeletionEmptiesItFirst() async throws {
        try await withAPIServer { ep, dir in
            let api = API(ep, dir: dir)
            _ = try await api.json("POST", "/api/v1/namespaces", #"{"metadata":{"name":"tmp"}}"#)
            #expect(try await eventually { (try await api.call("GET", "/api/v1/namespaces/tmp/serviceaccounts/default")).code == 200 })
            _ = try await api.json("POST", "/api/v1/namespaces/tmp/configmaps", #"{"metadata":{"name":"x"}}"#)
            let terminating = try await api.json("DELETE", "/api/v1/namespaces/tmp")
            #expect(terminating["status"]?["phase"]?.string == "Terminating")
            let (code, body) = try await api.call("POST", "/api/v1/namespaces/tmp/configmaps", #"{"metadata":{"name":"y"}}"#)
            #expect(code == 403 || code == 404, "\(body)")
            #expect(try await eventually { (try await api.call("GET", "/api/v1/namespaces/tmp")).code == 404 })
            #expect((try await api.call("GET", "/api/v1/namespaces/tmp/configmaps/x")).code == 404)
        }
    }

    @Test func discoveryDocuments() async throws {
        try await withAPIServer({ $0.runControllers = false }) { ep, dir in
            let api = API(ep, dir: dir)
            let (_, agg) = try await api.call("GET", "/apis", accept: "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList,application/json")
            let doc = try JSON.parse(agg)
            #expect(doc["kind"]?.string == "APIGroupDiscoveryList")
            #expect(doc["items"]?.array?.map { $0["metadata"]?["name"]?.string ?? "" } == ["apps", "coordination.k8s.io", "discovery.k8s.io", "certificates.k8s.io"])
            let core = try await api.json("GET", "/api/v1")
            let pods = core["resources"]?.array?.first { $0["name"]?.string == "pods" }
            #expect(pods?["shortNames"]?.array == ["po"])
            #expect(pods?["verbs"]?.array?.contains("watch") == true)
            let apps = try await api.json("GET", "/apis/apps/v1")
            let scale = apps["resources"]?.array?.first { $0["name"]?.string == "deployments/scale" }
            #expect(scale?["group"]?.string == "autoscaling" && scale?["kind"]?.string == "Scale")
            let root = try await api.json("GET", "/openapi/v3")
            let url = root["paths"]?["api/v1"]?["serverRelativeURL"]?.string ?? ""
            let v1 = try await api.json("GET", url)
            let podSchema = v1["components"]?["schemas"]?["io.k8s.api.core.v1.PodSpec"]?["properties"]?["containers"]
            #expect(podSchema?["x-kubernetes-patch-merge-key"]?.string == "name")
            #expect((try await api.call("GET", "/api/v2")).code == 404)
        }
    }

    @Test func metricsCountRequestsAndWritesByUser() async throws {
        try await withAPIServer({ c in
            c.runControllers = false
            try? "watcher-token,jane,jane-uid\n".write(toFile: c.dataDir + "/tokens.csv", atomically: true, encoding: .utf8)
            c.tokenAuthFile = c.dataDir + "/tokens.csv"
        }) { ep, dir in
            let api = API(ep, dir: dir)
            _ = try await api.json("POST", "/api/v1/namespaces/default/configmaps", #"{"metadata":{"name":"m1"}}"#)
            _ = try await api.json("POST", "/api/v1/namespaces/default/configmaps?dryRun=All", #"{"metadata":{"name":"m2"}}"#)
            _ = try await api.json("PATCH", "/api/v1/namespaces/default/configmaps/m1", #"{"data":{"a":"b"}}"#,
                                   type: "application/merge-patch+json")
            _ = try await api.call("GET", "/api/v1/namespaces/default/configmaps/nope")
            _ = try await api.call("GET", "/api/v1/namespaces/default/nosuchresources")
            let (code, text) = try await api.call("GET", "/metrics")
            #expect(code == 200)
            let lines = Set(text.split(separator: "\n").map(String.init))
            #expect(lines.contains(#"apiserver_request_total{code="201",component="apiserver",group="",resource="configmaps",subresource="",verb="POST",version="v1"} 2"#))
            #expect(lines.contains(#"apiserver_request_total{code="404",component="apiserver",group="",resource="configmaps",subresource="",verb="GET",version="v1"} 1"#))
            #expect(lines.contains(#"swiftlet_apiserver_mutating_requests_total{resource="configmaps",subresource="",user="admin",verb="POST"} 1"#))
            #expect(lines.contains(#"swiftlet_apiserver_mutating_requests_total{resource="configmaps",subresource="",user="admin",verb="PATCH"} 1"#))
            #expect(lines.contains("# TYPE swiftlet_apiserver_mutating_requests_total counter"))
            #expect(!text.contains("nosuchresources"))
            // Only cluster admins and system:monitoring read it, as upstream.
            let r = try await Command.run(["curl", "-s", "-o", "/dev/null", "-w", "%{http_code}", "--cacert", dir + "/pki/ca.crt",
                                           "-H", "Authorization: Bearer watcher-token", ep.url + "/metrics"])
            #expect(r.stdout == "403")
        }
    }
}
