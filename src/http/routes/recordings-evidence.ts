import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import type { FastifyInstance } from 'fastify';
import { createReplayAccess, type Access } from '../../access/index.js';
import type { AuditReader, AuditTrail } from '../../audit/index.js';
import { AppError, type Clock } from '../../core/index.js';
import { evidenceArchive, writeEvidence, type Recordings } from '../../recording/index.js';
import { contextOf } from '../request-context.js';
import { callerOf, idParams, noQuery } from './admin-common.js';

export interface EvidenceRouteDeps {
  recordings: Recordings;
  access: Access;
  trail: AuditTrail;
  /** The audit module's read side and keys (AuditService.evidence): the bundle carries the session's audit events. */
  audit: { reader: AuditReader; publicKeys: readonly string[]; clock: Clock };
  /** A folder for the bundles being sent (each in a private folder, removed when its answer ends). */
  dir: string;
}

/**
 * GET /api/recordings/:id/evidence: the evidence bundle of `webasset recording
 * evidence` as one ustar file (`evidence-<id>.tar`, extracting into a folder
 * of that name); `webasset recording verify FILE.tar` checks it. Who may replay
 * the recording may take it (the replay rule); recorded `recording.exported`
 * (format `evidence`) before the bundle is written, so its audit events hold it.
 */
export async function recordingEvidenceRoutes(app: FastifyInstance, deps: EvidenceRouteDeps): Promise<void> {
  const { recordings } = deps;
  const replay = createReplayAccess({ access: deps.access, find: (id) => recordings.get(id), clock: deps.audit.clock });

  app.get<{ Params: { id: string } }>(
    '/api/recordings/:id/evidence',
    // No HEAD twin: Fastify would build the bundle (and audit an export) to answer a HEAD.
    { exposeHeadRoute: false, config: { access: { kind: 'authenticated' } }, schema: { params: idParams, querystring: noQuery } },
    async (request, reply) => {
      const caller = callerOf(request);
      const context = contextOf(request);
      const recording = await replay.recording(caller, request.params.id, context);
      if (recording.state !== 'sealed') throw new AppError('conflict', { publicMessage: 'The recording is still running; take its evidence once its session has ended.' });
      await mkdir(deps.dir, { recursive: true, mode: 0o700 });
      const scratch = await mkdtemp(join(deps.dir, 'evidence-'));
      let removed = false;
      const cleanUp = () => {
        if (removed) return;
        removed = true;
        void rm(scratch, { recursive: true, force: true }).catch((error: unknown) => request.log.warn({ err: error }, 'an evidence folder could not be removed'));
      };
      // The folder goes when the answer ends, sent or cut off.
      reply.raw.once('close', cleanUp);
      try {
        const outDir = join(scratch, 'bundle');
        await writeEvidence(
          { recordings, reader: deps.audit.reader, trail: deps.trail, publicKeys: deps.audit.publicKeys, clock: deps.audit.clock },
          { id: recording.id, outDir, actor: { kind: caller.kind, id: caller.id, name: caller.name }, context },
        );
        const archive = await evidenceArchive(outDir, recording.id);
        const body = Readable.from(archive.stream(), { objectMode: false });
        reply.raw.once('close', () => body.destroy());
        return reply
          .type('application/x-tar')
          .header('content-length', String(archive.bytes))
          .header('content-disposition', `attachment; filename="${archive.name}"`)
          .send(body);
      } catch (error) {
        cleanUp();
        throw error;
      }
    },
  );
}
