import KubeAPI
import Testing
@testable import ServiceProxy

@Suite struct MetricsAndManifestTests {
    @Test func metricsRenderInPrometheusTextFormat() {
        var m = ProxyMetrics()
        m.syncDuration.observe(0.003)
        m.syncDuration.observe(0.5)
        m.networkProgrammingDuration.observe(0.3)
        m.endpointChanges = 4
        m.serviceChanges = 2
        m.syncFailures = 1
        m.lastSyncTimestamp = 1_700_000_000
        let text = m.render()
        #expect(text.contains("# TYPE kubeproxy_sync_proxy_rules_duration_seconds histogram"))
        #expect(text.contains("kubeproxy_sync_proxy_rules_duration_seconds_bucket{le=\"0.004\"} 1\n"))
        #expect(text.contains("kubeproxy_sync_proxy_rules_duration_seconds_bucket{le=\"+Inf\"} 2\n"))
        #expect(text.contains("kubeproxy_sync_proxy_rules_duration_seconds_count 2\n"))
        #expect(text.contains("kubeproxy_network_programming_duration_seconds_bucket{le=\"0.25\"} 0\n"))
        #expect(text.contains("kubeproxy_network_programming_duration_seconds_bucket{le=\"0.5\"} 1\n"))
        #expect(text.contains("kubeproxy_sync_proxy_rules_last_timestamp_seconds 1700000000\n"))
        #expect(text.contains("kubeproxy_sync_proxy_rules_endpoint_changes_total 4\n"))
        #expect(text.contains("kubeproxy_sync_proxy_rules_service_changes_total 2\n"))
        #expect(text.contains("kubeproxy_sync_proxy_rules_nftables_sync_failures_total 1\n"))
        // Every sample line is `name{labels} value` or `name value`.
        for line in text.split(separator: "\n") where !line.hasPrefix("#") {
            #expect(line.split(separator: " ").count == 2, "bad line: \(line)")
        }
    }

    @Test func directorySnapshotKeepsGoodDocumentsAndNamesBadOnes() {
        var snapshot = ManifestDirectory.Snapshot()
        ManifestDirectory.parse("""
        apiVersion: v1
        kind: Service
        metadata: {name: a, namespace: default}
        spec: {clusterIP: 10.96.0.1, ports: [{port: 80}]}
        ---
        apiVersion: v1
        kind: Service
        metadata: {name: b}
        spec: {ports: [{port: "eighty"}]}
        ---
        apiVersion: v1
        kind: ConfigMap
        metadata: {name: c}
        ---
        apiVersion: v1
        kind: List
        items:
        - apiVersion: discovery.k8s.io/v1
          kind: EndpointSlice
          metadata: {name: a-1, labels: {kubernetes.io/service-name: a}}
          addressType: IPv4
          endpoints: [{addresses: [10.1.0.1]}]
        """, file: "/d/all.yaml", into: &snapshot)
        #expect(snapshot.services.map(\.metadata.name) == ["a"])
        #expect(snapshot.slices.map(\.metadata.name) == ["a-1"])
        #expect(snapshot.errors.count == 1)
        #expect(snapshot.errors.first?.description.contains("/d/all.yaml (document 1): spec.ports[0].port") == true)
    }

    @Test func chainNamesAreStableDistinctAndShort() {
        let a = Names.hashed("default/web/tcp/http"), b = Names.hashed("default/web/tcp/https")
        #expect(a == Names.hashed("default/web/tcp/http"))
        #expect(a.prefix(8) != b.prefix(8))
        #expect(a.hasSuffix("-default/web/tcp/http"))
        #expect(Names.hashed(String(repeating: "x", count: 400)).utf8.count == 240)
    }
}
