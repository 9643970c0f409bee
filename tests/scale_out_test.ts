/**
 * Scale-out: the services run as separate host processes, the consumers twice each, against one
 * broker and one database (and one Redis). Under load one app2 and one app4 process are killed
 * (SIGKILL); the others take over their partitions once the group notices, and every accepted
 * message still lands. This is the deployment docker-compose.yml ships (one container per
 * service, replicas for the consumers), run here as processes.
 */
import assert from "node:assert/strict";
import { runLoad } from "../load/mod.ts";
import { testWhen } from "../runtime/_test_needs.ts";
import { OtlpReceiver } from "../testing/otlp_receiver.ts";
import { HostProcess } from "./_faults.ts";
import { realBackends, realBackendsUnavailable, redelivered } from "./_scenarios.ts";

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

testWhen(realBackendsUnavailable(), {
  name:
    "several host processes per consumer: one of each killed under load, the others carry on, nothing lost [real servers]",
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    const backends = await realBackends();
    const receiver = await OtlpReceiver.start({ keep: false });
    const processes: HostProcess[] = [];
    try {
      const shared = {
        ...backends.env,
        HOST: "127.0.0.1",
        OTEL_EXPORTER_OTLP_ENDPOINT: receiver.endpoint,
        KAFKA_SESSION_TIMEOUT_MS: "6000",
        EXECUTOR_SCHEDULE: "0 0 0 1 1 *",
        CONSOLE: "off",
        LOG_FORMAT: "json",
      };
      const start = async (service: string, env: Record<string, string> = {}) => {
        const host = await HostProcess.start(
          { ...HostProcess.ports(), ...shared, ...env },
          { services: [service] },
        );
        processes.push(host);
        return host;
      };
      const app3 = await start("app3");
      const app1 = await start("app1", { APP3_URL: app3.urls.app3 });
      const app2 = await Promise.all([1, 2].map(() => start("app2", { APP3_URL: app3.urls.app3 })));
      const app4 = await Promise.all([1, 2].map(() => start("app4")));

      const load = runLoad({
        target: app1.urls.app1,
        rate: 60,
        durationMs: 12_000,
        path: "post-message",
        landing: { kind: "http", app3: app3.urls.app3, app4: app4[1].urls.app4 },
        landingTimeoutMs: 60_000,
      });
      await sleep(4000);
      const handledBefore = (host: HostProcess, message: string) =>
        host.lines.filter((line) => line.includes(`"message":"${message}"`)).length;
      // Both members of each group were handling messages: the work was shared.
      for (
        const [hosts, message] of [[app2, "message forwarded to app3"], [
          app4,
          "message cached",
        ]] as const
      ) {
        for (const host of hosts) {
          assert.ok(handledBefore(host, message) > 0, `${message} in every member`);
        }
      }
      app2[0].kill("SIGKILL");
      app4[0].kill("SIGKILL");
      await Promise.all([app2[0].exited, app4[0].exited]);
      const afterKill = {
        app2: handledBefore(app2[1], "message forwarded to app3"),
        app4: handledBefore(app4[1], "message cached"),
      };
      const report = await load;
      assert.ok(report.accepted > 500, `accepted ${report.accepted}`);
      assert.equal(report.lost, 0, JSON.stringify(report.lostMessages));
      assert.equal(report.landed, report.accepted);
      // The survivors went on, and took over the partitions of the killed members.
      assert.ok(handledBefore(app2[1], "message forwarded to app3") > afterKill.app2);
      assert.ok(handledBefore(app4[1], "message cached") > afterKill.app4);
      const lines = processes.flatMap((host) => host.lines);
      const extra = redelivered(lines);
      console.log(
        `accepted ${report.accepted}, landed ${report.landed}, redelivered app2 ${extra.app2}, app4 ${extra.app4}`,
      );
    } finally {
      for (const host of processes) {
        try {
          host.kill("SIGTERM");
        } catch {
          // killed by the test
        }
      }
      await Promise.all(processes.map((host) => host.exited));
      await receiver.stop();
      await backends.close();
    }
  },
});
