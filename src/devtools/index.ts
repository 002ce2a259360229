/**
 * `authmachines/devtools`: development tools. `createFlowView` serves the live flow view (the
 * machines' statecharts, the current states of the latest flows, and the signal log). Never mount
 * it in production.
 */
export { createFlowView, stateIdsOf } from "./flow-view.ts";
export type { FlowView, FlowViewOptions, FlowViewSignal, FlowViewState } from "./flow-view.ts";
export { statechartSvg } from "./statechart.ts";
