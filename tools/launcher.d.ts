// Types of tools/launcher.js (plain CommonJS so `npm start` runs it unbuilt), for the TypeScript harnesses.
import type { ChildProcess, StdioOptions } from 'node:child_process';

export type AppName = 'tracking' | 'ingest' | 'attribution' | 'reporting' | 'delivery' | 'gateway';
export type Ports = Record<AppName, { grpc?: number; http?: number }>;
export interface AppSpec {
  name: AppName;
  db: boolean;
  ports: { grpc?: [string, number]; http?: [string, number] };
  host: string;
  publicUrl?: string;
  peers: Record<string, AppName>;
  ready: 'http' | 'grpc';
}
export interface Endpoints {
  trackingGrpc: string;
  trackingHttp: string;
  ingestGrpc: string;
  ingestHttp: string;
  attributionGrpc: string;
  reportingGrpc: string;
  deliveryGrpc: string;
  gatewayHttp: string;
}

export const ROOT: string;
export const APPS: readonly AppSpec[];
export const NAMES: readonly AppName[];
export function mainOf(name: AppName, appsDir?: string): string;
export function freePort(): Promise<number>;
export function defaultPorts(env?: NodeJS.ProcessEnv): Ports;
export function allocatePorts(): Promise<Ports>;
export function endpoints(ports: Ports, host?: string): Endpoints;
export function appEnv(name: AppName, ports: Ports, host?: string): Record<string, string>;
export function grpcServing(address: string): Promise<boolean>;
export function isReady(name: AppName, ports: Ports, host?: string): Promise<boolean>;
export function waitReady(name: AppName, ports: Ports, opts?: { child?: ChildProcess; timeoutMs?: number; host?: string }): Promise<void>;
export function spawnApp(
  name: AppName,
  opts?: { main?: string; env?: NodeJS.ProcessEnv; stdio?: StdioOptions; execArgv?: string[]; preload?: string[]; args?: string[] },
): ChildProcess;
