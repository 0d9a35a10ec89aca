import type { ReactNode } from 'react';
import { Link } from 'wouter';

const path = (...parts: string[]) => parts.map(encodeURIComponent).join('/');

/** Links to the detail screens; each shows its id unless given other text. */
export const MessageLink = ({ id, children }: { id: string; children?: ReactNode }) => <Link href={`/messages/${path(id)}`}>{children ?? id}</Link>;
export const ContactLink = ({ id, children }: { id: string; children?: ReactNode }) => <Link href={`/contacts/${path(id)}`}>{children ?? id}</Link>;
export const PartnerLink = ({ id, children }: { id: string; children?: ReactNode }) => <Link href={`/partners/${path(id)}`}>{children ?? id}</Link>;
export const ConversionLink = ({ partnerId, conversionId, children }: { partnerId: string; conversionId: string; children?: ReactNode }) => (
  <Link href={`/conversions/${path(partnerId, conversionId)}`}>{children ?? `${partnerId} / ${conversionId}`}</Link>
);
