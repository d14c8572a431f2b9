// Sentinel UI: live rows on the transactions page, panels that refresh themselves,
// and the overview charts, the drift chart among them. Every page works without it.
// HTML it inserts comes from the UI's own templates (escaped there); JSON goes into
// text, never into markup.
"use strict";

(function () {
  const LIVE_POLL_MS = 3000;
  const numbers = new Intl.NumberFormat("en");

  // Run `task` every `ms` milliseconds while the page is visible, one run at a time.
  function every(ms, task) {
    async function tick() {
      if (!document.hidden) {
        try {
          await task();
        } catch (error) {
          console.warn("refresh failed:", error);
        }
      }
      setTimeout(tick, ms);
    }
    setTimeout(tick, ms);
  }

  // -- the transactions list: new decisions appear on top ------------------------

  function liveTable(table) {
    const body = table.tBodies[0];
    const limit = Number(table.dataset.limit) || 50;
    const status = document.getElementById("live-status");
    let since = table.dataset.since;

    every(LIVE_POLL_MS, async () => {
      const url = new URL(table.dataset.liveUrl, window.location.href);
      url.searchParams.set("since", since);
      const response = await fetch(url, { headers: { Accept: "text/html" } });
      if (status) status.dataset.state = response.ok ? "live" : "paused";
      if (!response.ok) return;
      const fragment = document.createElement("template");
      fragment.innerHTML = await response.text();
      // Newest stored first in the answer: insert the oldest first, so the newest ends on top.
      const rows = Array.from(fragment.content.querySelectorAll("tr[data-id]")).reverse();
      let added = 0;
      for (const row of rows) {
        if (row.dataset.persisted > since) since = row.dataset.persisted;
        // A transaction is its client's: the same id from two clients is two rows.
        const shown = `tr[data-client="${CSS.escape(row.dataset.client)}"][data-id="${CSS.escape(row.dataset.id)}"]`;
        if (body.querySelector(shown)) continue;
        body.prepend(row);
        added += 1;
      }
      if (added === 0) return;
      while (body.rows.length > limit) body.deleteRow(-1);
      pointNextPageAfter(body.rows[body.rows.length - 1]);
      const card = document.getElementById("transactions-card");
      if (card) card.hidden = false;
      const empty = document.getElementById("empty");
      if (empty) empty.hidden = true;
    });
  }

  // Rows pushed off the bottom belong to the next page now: start it after the last row shown.
  function pointNextPageAfter(lastRow) {
    const next = document.querySelector('[data-pager="next"]');
    if (!next || !lastRow || !lastRow.dataset.after) return;
    const url = new URL(window.location.href);
    url.searchParams.delete("before");
    url.searchParams.set("after", lastRow.dataset.after);
    const link = document.createElement("a");
    link.className = "button";
    link.rel = "next";
    link.dataset.pager = "next";
    link.href = url.pathname + url.search;
    link.textContent = next.textContent;
    next.replaceWith(link);
  }

  // -- panels rendered by the server, refreshed in place -------------------------

  function refreshing(region) {
    const seconds = Number(region.dataset.refreshSeconds) || 5;
    async function refresh() {
      const response = await fetch(region.dataset.refreshUrl, { headers: { Accept: "text/html" } });
      if (response.ok) region.innerHTML = await response.text();
    }
    // A region still waiting for its first content gets it now, not a period later.
    if (region.querySelector("[data-refresh-pending]")) refresh().catch((error) => console.warn(error));
    every(seconds * 1000, refresh);
  }

  // -- the overview charts ------------------------------------------------------------

  const COLOURS = { approve: "#2e9e57", review: "#e09b12", block: "#d6333a" };

  function dominant(byDecision, index) {
    let best = "approve";
    for (const decision of Object.keys(byDecision)) {
      if (byDecision[decision][index] > byDecision[best][index]) best = decision;
    }
    return best;
  }

  function chartData(data) {
    const risk = data.risk.by_decision;
    const riskTotals = data.risk.bins.map((_, i) => risk.approve[i] + risk.review[i] + risk.block[i]);
    return {
      decisions: {
        labels: data.buckets,
        datasets: ["approve", "review", "block"].map((decision) => ({
          label: decision,
          data: data.decisions[decision],
          backgroundColor: COLOURS[decision],
          stack: "decisions",
        })),
      },
      risk: {
        labels: data.risk.bins,
        datasets: [
          {
            label: "transactions",
            data: riskTotals,
            backgroundColor: data.risk.bins.map((_, i) => COLOURS[dominant(risk, i)]),
          },
        ],
      },
      alerts: {
        labels: data.buckets,
        datasets: ["review", "block"].map((decision) => ({
          label: decision,
          data: data.alerts[decision],
          backgroundColor: COLOURS[decision],
          stack: "alerts",
        })),
      },
    };
  }

  function makeChart(id, data, options) {
    return new window.Chart(document.getElementById(id), {
      type: "bar",
      data,
      options: {
        responsive: true,
        maintainAspectRatio: false,
        animation: { duration: 300 },
        interaction: { mode: "index", intersect: false },
        plugins: { legend: { position: "bottom", labels: { boxWidth: 12, boxHeight: 12 } } },
        ...options,
      },
    });
  }

  function overviewCharts(container) {
    if (!window.Chart) return;
    window.Chart.defaults.font.family = getComputedStyle(document.body).fontFamily;
    window.Chart.defaults.color = "#5a6376";
    const stacked = {
      scales: {
        x: { stacked: true, grid: { display: false }, ticks: { maxRotation: 0, autoSkipPadding: 12 } },
        y: { stacked: true, beginAtZero: true, ticks: { precision: 0 } },
      },
    };
    let charts = null;

    async function load() {
      const response = await fetch(container.dataset.chartSource, { headers: { Accept: "application/json" } });
      if (!response.ok) return;
      const data = await response.json();
      const next = chartData(data);
      if (charts === null) {
        charts = {
          decisions: makeChart("chart-decisions", next.decisions, stacked),
          risk: makeChart("chart-risk", next.risk, {
            plugins: { legend: { display: false } },
            scales: {
              x: { grid: { display: false }, ticks: { maxRotation: 0, autoSkipPadding: 8 } },
              y: {
                type: "logarithmic",
                min: 0.5,
                title: { display: true, text: "transactions (log scale)" },
                ticks: { callback: (value) => (Number.isInteger(Math.log10(value)) ? numbers.format(value) : "") },
              },
            },
          }),
          alerts: makeChart("chart-alerts", next.alerts, stacked),
        };
      } else {
        for (const name of Object.keys(charts)) {
          charts[name].data = next[name];
          charts[name].update("none");
        }
      }
      for (const element of document.querySelectorAll("[data-total]")) {
        const value = data.totals[element.dataset.total];
        if (typeof value === "number") element.textContent = numbers.format(value);
      }
    }

    load().catch((error) => console.warn("charts failed:", error));
    every(Number(container.dataset.refreshSeconds || 15) * 1000, load);
  }

  // -- the drift chart: the largest PSI of each check, the risk score's, and the threshold ----

  function driftChart(container) {
    if (!window.Chart) return;
    async function load() {
      const response = await fetch(container.dataset.driftSource, { headers: { Accept: "application/json" } });
      if (!response.ok) return;
      const data = await response.json();
      const line = (label, values, colour, extra) => ({
        label,
        data: values,
        borderColor: colour,
        backgroundColor: colour,
        pointRadius: 3,
        spanGaps: true,
        ...extra,
      });
      new window.Chart(document.getElementById("chart-drift"), {
        type: "line",
        data: {
          labels: data.labels,
          datasets: [
            line("largest PSI", data.max_psi, COLOURS.review),
            line("risk score PSI", data.risk_score_psi, "#3b5bdb"),
            line("alert threshold", data.threshold, COLOURS.block, { borderDash: [6, 4], pointRadius: 0 }),
          ],
        },
        options: {
          responsive: true,
          maintainAspectRatio: false,
          animation: { duration: 300 },
          interaction: { mode: "index", intersect: false },
          plugins: { legend: { position: "bottom", labels: { boxWidth: 12, boxHeight: 12 } } },
          scales: {
            x: { grid: { display: false }, ticks: { maxRotation: 0, autoSkipPadding: 12 } },
            y: { beginAtZero: true, title: { display: true, text: "PSI" } },
          },
        },
      });
    }
    load().catch((error) => console.warn("drift chart failed:", error));
  }

  document.addEventListener("DOMContentLoaded", () => {
    document.querySelectorAll("table[data-live-url]").forEach(liveTable);
    document.querySelectorAll("[data-refresh-url]").forEach(refreshing);
    document.querySelectorAll("[data-chart-source]").forEach(overviewCharts);
    document.querySelectorAll("[data-drift-source]").forEach(driftChart);
  });
})();
