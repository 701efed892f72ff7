// TypeScript shapes of the two custom resources no npm model package covers,
// written from their published Go API types: LeaderWorkerSet
// (leaderworkerset.x-k8s.io/v1, kubernetes-sigs/lws) and InferencePool
// (inference.networking.k8s.io/v1, Gateway API Inference Extension). Only
// spec fields are listed; tsc's excess-property check rejects anything else.
// Pod templates are the core PodTemplateSpec, checked as strictly as a Deployment's.
import type { IObjectMeta } from "@kubernetes-models/apimachinery/apis/meta/v1/ObjectMeta";
import type { IPodTemplateSpec } from "kubernetes-models/v1/PodTemplateSpec";
import type { IPersistentVolumeClaim } from "kubernetes-models/v1/PersistentVolumeClaim";

type IntOrString = number | string;

export interface ILeaderWorkerSet {
  apiVersion: "leaderworkerset.x-k8s.io/v1";
  kind: "LeaderWorkerSet";
  metadata: IObjectMeta;
  spec: {
    replicas?: number;
    startupPolicy?: "LeaderCreated" | "LeaderReady";
    leaderWorkerTemplate: {
      leaderTemplate?: IPodTemplateSpec;
      workerTemplate: IPodTemplateSpec;
      size?: number;
      restartPolicy?: "RecreateGroupOnPodRestart" | "None" | "Default";
      subGroupPolicy?: { subGroupPolicyType?: "LeaderWorker" | "LeaderExcluded"; subGroupSize?: number };
      volumeClaimTemplates?: IPersistentVolumeClaim[];
    };
    rolloutStrategy?: {
      type: "RollingUpdate";
      rollingUpdateConfiguration?: { partition?: number; maxUnavailable?: IntOrString; maxSurge?: IntOrString };
    };
    networkConfig?: { subdomainPolicy: "Shared" | "UniquePerReplica" };
  };
}

export interface IInferencePool {
  apiVersion: "inference.networking.k8s.io/v1";
  kind: "InferencePool";
  metadata: IObjectMeta;
  spec: {
    selector: { matchLabels: { [key: string]: string } };
    targetPorts: [{ number: number }];  // exactly one port today
    endpointPickerRef: {
      group?: string;
      kind?: string;
      name: string;
      port?: { number: number };
      failureMode?: "FailOpen" | "FailClose";
    };
  };
}
