/** The signing key and certificate: created once per installation, owner-only, replaceable by a studio's own. */
import fs from 'node:fs';
import path from 'node:path';
import { X509Certificate, createPrivateKey, generateKeyPairSync } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  CERT_FILE, INSTALLATION_DIR, KEY_FILE, PROVENANCE_DIR, Provenance, SIGNER_CONFIG, SignerConfigError, installationIdentity, selfSignedCertificate, signingIdentity,
} from '../../main/provenance';
import { ProjectLibrary } from '../../main/library';
import { params, removeDir, tempDir, testImage } from '../library/helpers';
import { officialRead } from './helpers';

let root: string;
beforeAll(() => {
  root = tempDir('atelier-identity-');
});
afterAll(() => removeDir(root));

function studioSigner(dir: string, name: string): void {
  fs.mkdirSync(dir, { recursive: true });
  const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  fs.writeFileSync(path.join(dir, `${name}-cert.pem`), selfSignedCertificate({ privateKey, commonName: name, organization: 'Studio' }));
  fs.writeFileSync(path.join(dir, `${name}-key.pem`), privateKey.export({ type: 'pkcs8', format: 'pem' }));
}

describe('the installation identity', () => {
  it('is a P-256 key and a C2PA-profile certificate, created on first use with owner-only permissions, then reused', () => {
    const home = path.join(root, 'home-a');
    const first = installationIdentity(home);
    const dir = path.join(home, PROVENANCE_DIR, INSTALLATION_DIR);
    if (process.platform !== 'win32') {
      expect(fs.statSync(dir).mode & 0o777).toBe(0o700);
      expect(fs.statSync(path.join(dir, KEY_FILE)).mode & 0o777).toBe(0o600);
    }
    const cert = new X509Certificate(fs.readFileSync(path.join(dir, CERT_FILE)));
    expect(cert.checkPrivateKey(createPrivateKey(first.privateKey))).toBe(true);
    expect(cert.verify(cert.publicKey)).toBe(true); // self-signed
    expect(cert.publicKey.asymmetricKeyDetails?.namedCurve).toBe('prime256v1');
    expect(cert.subject).toMatch(/CN=Atelier installation [0-9a-f]{12}/);
    expect(cert.keyUsage).toEqual(expect.arrayContaining(['1.3.6.1.5.5.7.3.4'])); // emailProtection (EKU)
    expect(cert.ca).toBe(false);
    expect(new Date(cert.validTo).getTime()).toBeGreaterThan(Date.now() + 9 * 365 * 24 * 3600 * 1000);
    const again = installationIdentity(home);
    expect(again.serialNumber).toBe(first.serialNumber);
    expect(again.privateKey.equals(first.privateKey)).toBe(true);
    // No temporary folders left behind.
    expect(fs.readdirSync(path.join(home, PROVENANCE_DIR))).toEqual([INSTALLATION_DIR]);
  });
});

describe('a studio certificate', () => {
  it('global signer.json replaces the installation key; a project signer.json wins over it', async () => {
    const home = path.join(root, 'home-b');
    const provDir = path.join(home, PROVENANCE_DIR);
    studioSigner(path.join(provDir, 'keys'), 'Studio Global');
    fs.writeFileSync(path.join(provDir, SIGNER_CONFIG), JSON.stringify({ certificate: 'keys/Studio Global-cert.pem', privateKey: 'keys/Studio Global-key.pem' }));
    expect(signingIdentity(home).commonName).toBe('Studio Global');

    const lib = await ProjectLibrary.create(root, 'Studio project', { provenance: new Provenance(home, { warn: () => undefined }), durableWrites: false });
    try {
      const a = await lib.addGeneration({ image: testImage(32, 32), params: params({ width: 32, height: 32 }) });
      let store = await officialRead(fs.readFileSync(a.imagePath));
      expect(store!.validation_state).toBe('Valid');
      expect(store!.manifests[store!.active_manifest!].signature_info?.common_name).toBe('Studio Global');

      studioSigner(path.join(lib.dir, 'keys'), 'Studio Project');
      fs.writeFileSync(path.join(lib.dir, SIGNER_CONFIG), JSON.stringify({ certificate: 'keys/Studio Project-cert.pem', privateKey: 'keys/Studio Project-key.pem', algorithm: 'es256' }));
      // A fresh Provenance (identities are read once per process and project).
      const lib2Prov = new Provenance(home, { warn: () => undefined });
      expect(lib2Prov.identity(lib.dir).commonName).toBe('Studio Project');
    } finally {
      lib.close();
    }
    // The installation key was never needed.
    expect(fs.existsSync(path.join(provDir, INSTALLATION_DIR))).toBe(false);
  });

  it('a broken signer.json is named in the error, and a save still succeeds (unsigned, with a warning)', async () => {
    const home = path.join(root, 'home-c');
    fs.mkdirSync(path.join(home, PROVENANCE_DIR), { recursive: true });
    fs.writeFileSync(path.join(home, PROVENANCE_DIR, SIGNER_CONFIG), JSON.stringify({ certificate: 'missing.pem', privateKey: 'missing-key.pem' }));
    expect(() => signingIdentity(home)).toThrow(SignerConfigError);
    expect(() => signingIdentity(home)).toThrow(/signer\.json: cannot read the certificate missing\.pem/);
    fs.writeFileSync(path.join(home, PROVENANCE_DIR, SIGNER_CONFIG), '{ not json');
    expect(() => signingIdentity(home)).toThrow(/signer\.json is not valid JSON/);

    const warnings: string[] = [];
    const lib = await ProjectLibrary.create(root, 'Broken signer', { provenance: new Provenance(home, { warn: (m) => warnings.push(m) }), durableWrites: false });
    try {
      const g = await lib.addGeneration({ image: testImage(32, 32), params: params({ width: 32, height: 32 }) });
      expect(fs.existsSync(g.imagePath)).toBe(true);
      expect(await officialRead(fs.readFileSync(g.imagePath))).toBeNull();
      expect(warnings).toHaveLength(1);
      expect(warnings[0]).toMatch(/content credentials not written: .*signer\.json is not valid JSON/);
      await lib.addGeneration({ image: testImage(32, 32, 2), params: params({ width: 32, height: 32 }) });
      expect(warnings).toHaveLength(1); // told once
    } finally {
      lib.close();
    }
  });
});
